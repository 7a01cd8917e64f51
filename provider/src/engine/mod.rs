//! Domain rules over the key store.
