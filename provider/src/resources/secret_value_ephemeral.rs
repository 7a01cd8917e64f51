//! `ephemeral "keyshift_secret_value"`: reads one version of a secret's
//! value for the duration of a Terraform run (Terraform 1.10+). The value
//! is sensitive and, being ephemeral, never reaches state or plan files;
//! feed it to write-only arguments (`secret_data_wo`, other providers'
//! `*_wo`), provider blocks or other ephemeral resources.
//!
//! The secret is chosen by `id`, or by `name` in `instance_id` (the shared
//! KMS when unset); the version by `version_id` or `version_stage`
//! (default `ACSCurrent`). Lookup and version choice are the engine's
//! (`Kms::lookup_secret`, `Kms::read_secret_version`), shared with
//! `keyshift secret get`.

use super::ProviderCtx;
use super::common::{check_instance_id, object, store_diag};
use crate::engine::secret_read::VersionPick;
use crate::framework::{
    Attr, AttrPath, AttrType, Attribute, Decoder, Diagnostic, Diagnostics, EphemeralResource,
    Model, Schema, ToValue, Value,
};
use crate::store::{Container, StoreError};

/// The `keyshift_secret_value` ephemeral resource type.
pub struct SecretValueEphemeral;

fn attributes() -> Vec<Attribute> {
    use AttrType::String as Str;
    use Attribute as A;
    vec![
        A::optional_computed("id", Str, "Id (`sec-...`) of the secret to read. Set exactly one of `id` and `name`."),
        A::optional_computed("name", Str, "Name of the secret to read, in `instance_id` (the shared KMS when unset). Set exactly one of `id` and `name`."),
        A::optional_computed("instance_id", Str, "KMS instance holding the secret named `name`; null means the shared KMS. With `id`, the secret must live there when set."),
        A::optional_computed("version_id", Str, "Version to read; default: the `ACSCurrent` version. Set at most one of `version_id` and `version_stage`. Computed: the version that was read."),
        A::optional("version_stage", Str, "Stage of the version to read, e.g. `ACSCurrent` or `ACSPrevious`. Set at most one of `version_id` and `version_stage`."),
        A::computed("value", Str, "The secret value (UTF-8 text). Sensitive and ephemeral: never stored in state or plans.").sensitive(),
    ]
}

/// What to read: a secret by `id` or by `name` (in `instance_id`), and
/// a version by `version_id` or `version_stage`.
struct ValueQuery {
    id: Attr<String>,
    name: Attr<String>,
    instance_id: Attr<String>,
    version_id: Attr<String>,
    version_stage: Attr<String>,
}

impl Model for ValueQuery {
    fn decode(d: &mut Decoder<'_>) -> Self {
        ValueQuery {
            id: d.attr("id"),
            name: d.attr("name"),
            instance_id: d.attr("instance_id"),
            version_id: d.attr("version_id"),
            version_stage: d.attr("version_stage"),
        }
    }
}

impl ValueQuery {
    fn check(&self, mut diags: Diagnostics) -> Diagnostics {
        exclusive(("id", &self.id), ("name", &self.name), true, &mut diags);
        let (id, stage) = (&self.version_id, &self.version_stage);
        exclusive(
            ("version_id", id),
            ("version_stage", stage),
            false,
            &mut diags,
        );
        check_instance_id("instance_id", &self.instance_id, &mut diags);
        diags
    }
}

/// Two attributes of which at most one (or, with `need_one`, exactly one)
/// may be set; unknown values are not judged.
fn exclusive(
    (a, x): (&str, &Attr<String>),
    (b, y): (&str, &Attr<String>),
    need_one: bool,
    diags: &mut Diagnostics,
) {
    if x.is_unknown() || y.is_unknown() {
        return;
    }
    let (both, neither) = (!x.is_null() && !y.is_null(), x.is_null() && y.is_null());
    if both || (need_one && neither) {
        let rule = if need_one { "exactly" } else { "at most" };
        diags.push(Diagnostic::attr_error(
            a,
            format!("Set {rule} one of {a} and {b}"),
            format!("ephemeral.keyshift_secret_value takes {rule} one of `{a}` and `{b}`"),
        ));
    }
}

impl EphemeralResource<ProviderCtx> for SecretValueEphemeral {
    fn type_name(&self) -> &'static str {
        "keyshift_secret_value"
    }

    fn schema(&self) -> Schema {
        Schema {
            version: 0,
            description: "Reads a secret's value without storing it: an ephemeral resource (Terraform 1.10+) whose result never reaches state or plan. Use it in write-only arguments, provider blocks or other ephemeral contexts. The secret holding a break-glass grant's credential is refused (and the refusal audited): that credential is read only with `keyshift break-glass credential ID`.",
            attributes: attributes(),
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let (q, diags) = ValueQuery::from_value_partial(config);
        q.check(diags)
    }

    fn open(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, Diagnostics> {
        let q = ValueQuery::from_value(config)?;
        let diags = q.check(Vec::new());
        if !diags.is_empty() {
            return Err(diags);
        }
        let (by_id, attr) = match (q.id.known(), q.name.known()) {
            (Some(id), _) => (id, "id"),
            (None, Some(name)) => (name, "name"),
            (None, None) => {
                return Err(vec![Diagnostic::attr_error(
                    "id",
                    "Set exactly one of id and name",
                    "neither was set",
                )]);
            }
        };
        let container = q
            .instance_id
            .known()
            .map(|i| Container::Instance(i.to_string()));
        let secret = ctx
            .kms
            .lookup_secret(by_id, container.as_ref())
            .map_err(|e| vec![store_diag("Secret not found", &e).at(AttrPath::attr(attr))])?;
        let pick = match (q.version_id.known(), q.version_stage.known()) {
            (Some(v), _) => VersionPick::Id(v),
            (_, Some(st)) => VersionPick::Stage(st),
            _ => VersionPick::Current,
        };
        let read = ctx.kms.read_secret_version(&secret.id, pick).map_err(|e| {
            let d = store_diag("Cannot read secret value", &e);
            let at = match (&e, pick) {
                (StoreError::NotFound { .. }, VersionPick::Id(_)) => "version_id",
                (StoreError::NotFound { .. }, VersionPick::Stage(_)) => "version_stage",
                _ => attr,
            };
            vec![d.at(AttrPath::attr(at))]
        })?;
        let text = std::str::from_utf8(&read.value).map_err(|_| {
            vec![Diagnostic::error(
                "Secret value is not text",
                format!(
                    "version {} of secret {} is not UTF-8 text, which Terraform strings \
                     require (the value is not shown); read it with `keyshift secret get`",
                    read.version_id, secret.id
                ),
            )]
        })?;
        Ok(object(vec![
            ("id", secret.id.to_value()),
            ("name", secret.name.to_value()),
            (
                "instance_id",
                secret
                    .container
                    .instance_id()
                    .map(str::to_string)
                    .to_value(),
            ),
            ("version_id", read.version_id.to_value()),
            ("version_stage", q.version_stage.to_value()),
            ("value", Value::string(text)),
        ]))
    }
}
