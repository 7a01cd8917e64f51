//! Process start-up: go-plugin handshake, AutoMTLS, serving.
