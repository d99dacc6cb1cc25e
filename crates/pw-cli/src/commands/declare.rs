//! `patchwarden plan -f DIR` and `patchwarden apply -f DIR`: a directory of TOML files
//! describes baselines, patch groups, windows (with their targets and tasks), promotion
//! policies and webhooks; `plan`
//! compares it with the server by name and `apply` creates or updates what differs. Nothing
//! is deleted except the targets and tasks of a window the files describe. See
//! docs/declarative.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use pw_api::server::agent::PreviewRequest;
use pw_api::server::promotion::PromotionSpec;
use pw_api::server::webhooks::{WebhookSpec, WebhookUpdate};
use pw_api::server::windows::{
    CutoffBehavior, RebootOption, TargetFilter, TaskOperation, TaskSpec, WindowSpec,
    WindowTargetSpec,
};
use pw_client::Client;
use serde::{Deserialize, Serialize};

use crate::commands::client::{ConnectionArgs, Output, error_exit, print_json};
use crate::exit_code;
use crate::printer::Printer;

/// Compare or apply a directory of declarative files.
#[derive(Debug, Args)]
pub(crate) struct DeclareArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// The directory of `.toml` files.
    #[arg(short = 'f', long = "file", value_name = "DIR")]
    dir: PathBuf,
    /// Send every declared webhook's secret again, from its `secret_env` or `secret_file`
    /// (the server never answers secrets back, so a changed one cannot be seen otherwise).
    #[arg(long)]
    rotate_webhook_secrets: bool,
}

// ---- file format ------------------------------------------------------------------------

/// A declarative file (every `.toml` file without a top-level `operating_system` key).
#[derive(Debug, Deserialize)]
struct DeclFile {
    version: String,
    #[serde(default)]
    patch_group: Vec<PatchGroupDecl>,
    #[serde(default)]
    window: Vec<WindowDecl>,
    /// Promotion policies, as the API takes them (`from`, `to`, `patch_group`,
    /// `reject_failures`, `approve_when_healthy = { nodes, percent, soak }`).
    #[serde(default)]
    promotion: Vec<PromotionSpec>,
    /// Webhooks, by URL; the secret comes from outside the file.
    #[serde(default)]
    webhook: Vec<WebhookDecl>,
}

/// `[[webhook]]`: the API's fields, with the secret named, never written.
#[derive(Debug, Deserialize)]
struct WebhookDecl {
    url: String,
    /// An environment variable that holds the secret.
    #[serde(default)]
    secret_env: Option<String>,
    /// A file that holds the secret (a trailing newline is dropped).
    #[serde(default)]
    secret_file: Option<PathBuf>,
    /// Refused: secrets do not belong in files that go into version control.
    #[serde(default)]
    secret: Option<toml::Value>,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    critical_days: Option<u32>,
}

impl WebhookDecl {
    /// The API's spec, with the secret read from where the file says.
    fn into_spec(self) -> anyhow::Result<WebhookSpec> {
        if self.secret.is_some() {
            anyhow::bail!(
                "`secret` does not belong in a file: name where it is with `secret_env` or `secret_file`"
            );
        }
        if self.secret_env.is_some() == self.secret_file.is_some() {
            anyhow::bail!("give exactly one of `secret_env` and `secret_file`");
        }
        let secret = crate::commands::webhook::read_secret(
            self.secret_env.as_deref(),
            self.secret_file.as_deref(),
        )?
        .unwrap_or_default();
        if secret.is_empty() {
            anyhow::bail!("the secret is empty");
        }
        Ok(WebhookSpec {
            url: self.url,
            secret,
            events: self.events,
            description: self.description,
            critical_days: self.critical_days,
        })
    }
}

#[derive(Debug, Deserialize)]
struct PatchGroupDecl {
    name: String,
    baseline: String,
}

#[derive(Debug, Deserialize)]
struct WindowDecl {
    name: String,
    #[serde(default)]
    description: Option<String>,
    schedule: String,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    schedule_offset: Option<u8>,
    duration_hours: u8,
    #[serde(default)]
    cutoff_hours: u8,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    target: Vec<TargetDecl>,
    #[serde(default)]
    task: Vec<TaskDecl>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
struct TargetDecl {
    name: String,
    /// Tag key → accepted values.
    tags: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct TaskDecl {
    name: String,
    operation: TaskOperation,
    #[serde(default)]
    reboot: RebootOption,
    #[serde(default = "one")]
    priority: u32,
    #[serde(default = "one_text")]
    max_concurrency: String,
    #[serde(default = "zero_text")]
    max_errors: String,
    #[serde(default)]
    cutoff_behavior: CutoffBehavior,
    /// `[[window.task.health_check]]`: checks run after an install (the API's fields).
    #[serde(default)]
    health_check: Vec<pw_api::server::windows::HealthCheck>,
}

fn one() -> u32 {
    1
}
fn one_text() -> String {
    "1".to_owned()
}
fn zero_text() -> String {
    "0".to_owned()
}

/// The desired state read from a directory.
#[derive(Debug, Default)]
struct Desired {
    /// Baseline name → (file, canonical TOML, operating system).
    baselines: BTreeMap<String, DesiredBaseline>,
    /// (patch group, operating system) → baseline name: a group has one baseline per
    /// operating system (AL2 and AL2023 nodes of one group, each with its own).
    patch_groups: BTreeMap<(String, String), String>,
    windows: BTreeMap<String, DesiredWindow>,
    /// (from, to) baseline names → policy.
    promotions: BTreeMap<(String, String), PromotionSpec>,
    /// URL → webhook, its secret read.
    webhooks: BTreeMap<String, WebhookSpec>,
    /// Send every webhook's secret again (`--rotate-webhook-secrets`).
    rotate_webhook_secrets: bool,
}

#[derive(Debug)]
struct DesiredBaseline {
    text: String,
    canonical: String,
    operating_system: String,
}

#[derive(Debug)]
struct DesiredWindow {
    spec: WindowSpec,
    /// Target name → spec.
    targets: BTreeMap<String, WindowTargetSpec>,
    /// Task name → spec (targets: all the window's targets).
    tasks: BTreeMap<String, TaskSpec>,
}

/// A problem with the files: exit code 2.
#[derive(Debug)]
struct InvalidFiles(anyhow::Error);

fn load(args: &DeclareArgs, printer: &Printer) -> Result<Desired, InvalidFiles> {
    let mut desired = load_inner(&args.dir, printer).map_err(InvalidFiles)?;
    desired.rotate_webhook_secrets = args.rotate_webhook_secrets;
    Ok(desired)
}

fn load_inner(dir: &Path, printer: &Printer) -> anyhow::Result<Desired> {
    let mut files: Vec<PathBuf> = fs_err::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        anyhow::bail!("{}: no .toml files", dir.display());
    }
    let mut desired = Desired::default();
    // Patch groups are checked once every baseline is known.
    let mut groups: Vec<(PathBuf, PatchGroupDecl)> = Vec::new();
    for path in files {
        let text = fs_err::read_to_string(&path)?;
        let shown = path.display();
        let value: toml::Table =
            toml::from_str(&text).with_context(|| format!("{shown}: not valid TOML"))?;
        if value.contains_key("operating_system") {
            let loaded = pw_api::baseline::parse_baseline(&text)
                .with_context(|| format!("{shown}: invalid baseline"))?;
            for warning in &loaded.warnings {
                printer.warn(&format!("{shown}: {warning}"));
            }
            // Expired approvals and rejections no longer apply: say so before they ship.
            let now = jiff::Timestamp::now();
            for (list, entries) in [
                ("approved_patches", &loaded.baseline.approved),
                ("rejected_patches", &loaded.baseline.rejected),
            ] {
                for exception in entries.iter().filter(|e| !e.is_active(now)) {
                    printer.warn(&format!(
                        "{shown}: {list} entry `{}` expired on {}: it no longer applies",
                        exception.entry,
                        crate::table::opt(exception.expires)
                    ));
                }
            }
            let name = loaded.baseline.name.clone();
            let canonical = pw_api::baseline::to_toml(&loaded.baseline);
            let canonical_table: toml::Table = toml::from_str(&canonical).unwrap_or_default();
            let entry = DesiredBaseline {
                operating_system: canonical_table
                    .get("operating_system")
                    .and_then(toml::Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                canonical,
                text,
            };
            if desired.baselines.insert(name.clone(), entry).is_some() {
                anyhow::bail!("{shown}: baseline `{name}` is declared twice");
            }
            continue;
        }
        let mut unknown = Vec::new();
        let file: DeclFile = serde_ignored::deserialize(toml::Deserializer::new(&text), |key| {
            unknown.push(key.to_string());
        })
        .with_context(|| format!("{shown}: invalid declarative file"))?;
        for key in unknown {
            printer.warn(&format!("{shown}: unknown key `{key}` ignored"));
        }
        if file.version != "1" {
            anyhow::bail!(
                "{shown}: version `{}` is not supported (expected \"1\")",
                file.version
            );
        }
        groups.extend(file.patch_group.into_iter().map(|g| (path.clone(), g)));
        for promotion in file.promotion {
            let (from, to) = (promotion.from.clone(), promotion.to.clone());
            if desired
                .promotions
                .insert((from.clone(), to.clone()), promotion)
                .is_some()
            {
                anyhow::bail!("{shown}: a promotion from `{from}` to `{to}` is declared twice");
            }
        }
        for webhook in file.webhook {
            let url = webhook.url.clone();
            let spec = webhook
                .into_spec()
                .with_context(|| format!("{shown}: webhook `{url}`"))?;
            if desired.webhooks.insert(url.clone(), spec).is_some() {
                anyhow::bail!("{shown}: webhook `{url}` is declared twice");
            }
        }
        for window in file.window {
            let name = window.name.clone();
            let desired_window =
                window_from_decl(window).with_context(|| format!("{shown}: window `{name}`"))?;
            if desired
                .windows
                .insert(name.clone(), desired_window)
                .is_some()
            {
                anyhow::bail!("{shown}: window `{name}` is declared twice");
            }
        }
    }
    for (path, group) in groups {
        if !desired.baselines.contains_key(&group.baseline) {
            anyhow::bail!(
                "{}: patch group `{}` names baseline `{}`, which no file in {} declares",
                path.display(),
                group.name,
                group.baseline,
                dir.display()
            );
        }
        let os = desired.baselines[&group.baseline].operating_system.clone();
        if let Some(other) = desired
            .patch_groups
            .insert((group.name.clone(), os.clone()), group.baseline.clone())
        {
            anyhow::bail!(
                "{}: patch group `{}` has two baselines for {os}: `{other}` and `{}`",
                path.display(),
                group.name,
                group.baseline
            );
        }
    }
    Ok(desired)
}

fn window_from_decl(window: WindowDecl) -> anyhow::Result<DesiredWindow> {
    if window.target.is_empty() {
        anyhow::bail!("needs at least one [[window.target]]");
    }
    let spec = WindowSpec {
        name: window.name,
        description: window.description,
        schedule: window.schedule,
        schedule_timezone: window.timezone,
        schedule_offset: window.schedule_offset,
        start_date: None,
        end_date: None,
        duration_hours: window.duration_hours,
        cutoff_hours: window.cutoff_hours,
        allow_unassociated_targets: false,
        enabled: window.enabled,
    };
    let mut targets = BTreeMap::new();
    for target in window.target {
        if target.tags.is_empty() {
            anyhow::bail!("target `{}` has no tags", target.name);
        }
        let spec = WindowTargetSpec {
            name: Some(target.name.clone()),
            description: None,
            owner_information: None,
            targets: target
                .tags
                .into_iter()
                .map(|(key, values)| TargetFilter {
                    key: format!("tag:{key}"),
                    values,
                })
                .collect(),
        };
        if targets.insert(target.name.clone(), spec).is_some() {
            anyhow::bail!("target `{}` is declared twice", target.name);
        }
    }
    let mut tasks = BTreeMap::new();
    for task in window.task {
        let spec = TaskSpec {
            description: None,
            name: Some(task.name.clone()),
            operation: task.operation,
            targets: Vec::new(),
            priority: task.priority,
            max_concurrency: task.max_concurrency,
            max_errors: task.max_errors,
            cutoff_behavior: task.cutoff_behavior,
            reboot_option: task.reboot,
            install_override_list: Vec::new(),
            baseline_override: None,
            timeout_seconds: None,
            execution_timeout_seconds: None,
            health_checks: task.health_check,
        };
        if tasks.insert(task.name.clone(), spec).is_some() {
            anyhow::bail!("task `{}` is declared twice", task.name);
        }
    }
    Ok(DesiredWindow {
        spec,
        targets,
        tasks,
    })
}

// ---- comparison ---------------------------------------------------------------------------

/// One change `plan` shows and `apply` makes.
#[derive(Debug, Clone, Serialize)]
struct Change {
    /// `baseline`, `patch_group`, `window`, `promotion` or `webhook`.
    kind: &'static str,
    name: String,
    /// `create` or `update`.
    action: &'static str,
    /// For updates: what differs.
    fields: Vec<String>,
    #[serde(skip)]
    step: Step,
}

#[derive(Debug, Clone)]
enum Step {
    CreateBaseline,
    /// `text`: the file's baseline with the promoted entries kept.
    UpdateBaseline {
        id: String,
        text: String,
    },
    /// Register `baseline` for the group (for its operating system), first removing the
    /// registration of `replace_os` when one points elsewhere.
    RegisterGroup {
        baseline: String,
        replace_os: Option<String>,
    },
    Window(WindowStep),
    /// Create the promotion policy (from, to) of the files, or replace the settings of the
    /// policy `id`.
    Promotion {
        id: Option<String>,
        key: (String, String),
    },
    /// Create the webhook of `url`, or replace the settings of webhook `id` (and its secret
    /// when `secret`).
    Webhook {
        id: Option<String>,
        url: String,
        secret: bool,
    },
}

#[derive(Debug, Clone)]
struct WindowStep {
    /// The window's id when it exists.
    id: Option<String>,
    update_spec: bool,
    /// Recreate every target (and therefore every task).
    replace_targets: bool,
    replace_tasks: bool,
}

/// Differences between two TOML texts, by top-level key.
fn toml_fields(left: &str, right: &str) -> Vec<String> {
    let parse = |text: &str| toml::from_str::<toml::Table>(text).unwrap_or_default();
    let (left, right) = (parse(left), parse(right));
    let mut keys: Vec<&String> = left.keys().chain(right.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|key| left.get(*key) != right.get(*key))
        .cloned()
        .collect()
}

fn window_fields(want: &WindowSpec, have: &WindowSpec) -> Vec<String> {
    let mut fields = Vec::new();
    let mut check = |name: &str, differs: bool| {
        if differs {
            fields.push(name.to_owned());
        }
    };
    check("description", want.description != have.description);
    check("schedule", want.schedule != have.schedule);
    check("timezone", want.schedule_timezone != have.schedule_timezone);
    check(
        "schedule_offset",
        want.schedule_offset != have.schedule_offset,
    );
    check("duration_hours", want.duration_hours != have.duration_hours);
    check("cutoff_hours", want.cutoff_hours != have.cutoff_hours);
    check(
        "allow_unassociated_targets",
        want.allow_unassociated_targets != have.allow_unassociated_targets,
    );
    check("enabled", want.enabled != have.enabled);
    check(
        "start_date/end_date",
        want.start_date != have.start_date || want.end_date != have.end_date,
    );
    fields
}

/// The desired baseline (canonical TOML) with the approved and rejected entries that
/// `patchwarden promote` added on the server, and the file does not list, put back: applying
/// the files never undoes a promotion. Returns the text to apply and how many were kept.
fn keep_promoted(want: &str, have: &str) -> (String, usize) {
    // Also what the server's promotion policies added (owner `promotion policy <id>`).
    fn is_promoted_owner(owner: &str) -> bool {
        owner == crate::commands::promote::OWNER || owner.starts_with("promotion policy ")
    }
    let (Ok(wanted), Ok(current)) = (
        pw_api::baseline::parse_toml(want),
        pw_api::baseline::parse_toml(have),
    ) else {
        return (want.to_owned(), 0);
    };
    let mut merged = wanted.baseline;
    let mut kept = 0;
    for (into, from) in [
        (&mut merged.approved, &current.baseline.approved),
        (&mut merged.rejected, &current.baseline.rejected),
    ] {
        for exception in from {
            if exception.owner.as_deref().is_some_and(is_promoted_owner)
                && !into.iter().any(|e| e.entry == exception.entry)
            {
                into.push(exception.clone());
                kept += 1;
            }
        }
    }
    // Releases carry no owner: the server's verified and rejected releases are kept (only
    // promote adds them), and a `[release]` promote created is kept when the file has none.
    match (&mut merged.release, &current.baseline.release) {
        (Some(into), Some(from)) => {
            for (list, from) in [
                (&mut into.verified, &from.verified),
                (&mut into.reject, &from.reject),
            ] {
                for release in from {
                    if !list.contains(release) {
                        list.push(release.clone());
                        kept += 1;
                    }
                }
            }
        }
        (None, Some(from)) if merged.operating_system == current.baseline.operating_system => {
            kept += from.verified.len() + from.reject.len();
            merged.release = Some(from.clone());
        }
        _ => {}
    }
    if kept == 0 {
        return (want.to_owned(), 0);
    }
    (pw_api::baseline::to_toml(&merged), kept)
}

fn compare(client: &Client, desired: &Desired, printer: &Printer) -> anyhow::Result<Vec<Change>> {
    let mut changes = Vec::new();
    let summaries = client.baselines()?;
    let mut baseline_ids: BTreeMap<String, String> = BTreeMap::new();
    for (name, want) in &desired.baselines {
        match summaries.iter().find(|s| &s.name == name && !s.predefined) {
            None => changes.push(Change {
                kind: "baseline",
                name: name.clone(),
                action: "create",
                fields: Vec::new(),
                step: Step::CreateBaseline,
            }),
            Some(summary) => {
                baseline_ids.insert(name.clone(), summary.id.clone());
                let detail = client.baseline(&summary.id)?;
                let (text, kept) = keep_promoted(&want.canonical, &detail.toml);
                if kept > 0 {
                    printer.note(&format!(
                        "baseline {name}: keeping {kept} entr{} that promotion (`patchwarden \
                         promote` or a promotion policy) added on the server (docs/declarative.md)",
                        if kept == 1 { "y" } else { "ies" }
                    ));
                }
                if detail.toml != text {
                    changes.push(Change {
                        kind: "baseline",
                        name: name.clone(),
                        action: "update",
                        fields: toml_fields(&text, &detail.toml),
                        step: Step::UpdateBaseline {
                            id: summary.id.clone(),
                            text,
                        },
                    });
                }
            }
        }
    }
    let registrations = client.patch_groups()?;
    for ((group, os), baseline) in &desired.patch_groups {
        let existing = registrations
            .iter()
            .find(|r| &r.patch_group == group && &r.operating_system == os);
        let wanted_id = baseline_ids.get(baseline);
        match existing {
            None => changes.push(Change {
                kind: "patch_group",
                name: group.clone(),
                action: "create",
                fields: Vec::new(),
                step: Step::RegisterGroup {
                    baseline: baseline.clone(),
                    replace_os: None,
                },
            }),
            Some(registration) if Some(&registration.baseline_id) != wanted_id => {
                changes.push(Change {
                    kind: "patch_group",
                    name: group.clone(),
                    action: "update",
                    fields: vec!["baseline".to_owned()],
                    step: Step::RegisterGroup {
                        baseline: baseline.clone(),
                        replace_os: Some(os.clone()),
                    },
                });
            }
            Some(_) => {}
        }
    }
    let windows = client.windows()?;
    for (name, want) in &desired.windows {
        let Some(have) = windows.iter().find(|w| &w.spec.name == name) else {
            changes.push(Change {
                kind: "window",
                name: name.clone(),
                action: "create",
                fields: Vec::new(),
                step: Step::Window(WindowStep {
                    id: None,
                    update_spec: false,
                    replace_targets: true,
                    replace_tasks: true,
                }),
            });
            continue;
        };
        let mut fields = window_fields(&want.spec, &have.spec);
        let update_spec = !fields.is_empty();
        let targets = client.window_targets(&have.id)?;
        let have_targets: BTreeMap<String, WindowTargetSpec> = targets
            .iter()
            .map(|t| (t.spec.name.clone().unwrap_or_default(), t.spec.clone()))
            .collect();
        let replace_targets = have_targets != want.targets || targets.len() != want.targets.len();
        let tasks = client.window_tasks(&have.id)?;
        let all_targets: Vec<String> = {
            let mut ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
            ids.sort();
            ids
        };
        let have_tasks: BTreeMap<String, TaskSpec> = tasks
            .iter()
            .map(|t| {
                let mut spec = t.spec.clone();
                // Tasks target every target of the window; compare that, then drop it.
                let mut ids: Vec<String> = spec
                    .targets
                    .iter()
                    .filter(|f| f.key == "WindowTargetIds")
                    .flat_map(|f| f.values.clone())
                    .collect();
                ids.sort();
                if ids != all_targets || spec.targets.len() != 1 {
                    spec.name = Some(format!("{} (targets differ)", opt_name(&spec.name)));
                }
                spec.targets = Vec::new();
                (opt_name(&t.spec.name), spec)
            })
            .collect();
        let replace_tasks =
            replace_targets || have_tasks != want.tasks || tasks.len() != want.tasks.len();
        if replace_targets {
            fields.push("targets".to_owned());
        }
        if have_tasks != want.tasks || tasks.len() != want.tasks.len() {
            fields.push("tasks".to_owned());
        }
        if update_spec || replace_targets || replace_tasks {
            changes.push(Change {
                kind: "window",
                name: name.clone(),
                action: "update",
                fields,
                step: Step::Window(WindowStep {
                    id: Some(have.id.clone()),
                    update_spec,
                    replace_targets,
                    replace_tasks,
                }),
            });
        }
    }
    let policies = client.promotions()?;
    let id_of = |name: &str| {
        summaries
            .iter()
            .find(|b| b.name == name || b.id == name)
            .map(|b| b.id.clone())
    };
    for ((from, to), want) in &desired.promotions {
        let have = match (id_of(from), id_of(to)) {
            (Some(from_id), Some(to_id)) => policies
                .iter()
                .find(|p| p.from_baseline_id == from_id && p.to_baseline_id == to_id),
            _ => None,
        };
        let name = format!("{from} -> {to}");
        let key = (from.clone(), to.clone());
        match have {
            None => changes.push(Change {
                kind: "promotion",
                name,
                action: "create",
                fields: Vec::new(),
                step: Step::Promotion { id: None, key },
            }),
            Some(policy) => {
                let mut fields = Vec::new();
                if policy.spec.patch_group != want.patch_group {
                    fields.push("patch_group".to_owned());
                }
                if policy.spec.reject_failures != want.reject_failures {
                    fields.push("reject_failures".to_owned());
                }
                if policy.spec.approve_when_healthy != want.approve_when_healthy {
                    fields.push("approve_when_healthy".to_owned());
                }
                if !fields.is_empty() {
                    changes.push(Change {
                        kind: "promotion",
                        name,
                        action: "update",
                        fields,
                        step: Step::Promotion {
                            id: Some(policy.id.clone()),
                            key,
                        },
                    });
                }
            }
        }
    }
    if !desired.webhooks.is_empty() {
        let have = client.webhooks()?;
        for (url, want) in &desired.webhooks {
            let existing = have.iter().find(|webhook| &webhook.url == url);
            let step = |id: Option<String>, secret: bool| Step::Webhook {
                id,
                url: url.clone(),
                secret,
            };
            match existing {
                None => changes.push(Change {
                    kind: "webhook",
                    name: url.clone(),
                    action: "create",
                    fields: Vec::new(),
                    step: step(None, true),
                }),
                Some(webhook) => {
                    let sorted = |events: &[String]| {
                        let mut events = events.to_vec();
                        events.sort();
                        events.dedup();
                        events
                    };
                    let mut fields = Vec::new();
                    if sorted(&webhook.events) != sorted(&want.events) {
                        fields.push("events".to_owned());
                    }
                    if webhook.description != want.description {
                        fields.push("description".to_owned());
                    }
                    if want
                        .critical_days
                        .is_some_and(|days| days != webhook.critical_days)
                    {
                        fields.push("critical_days".to_owned());
                    }
                    if desired.rotate_webhook_secrets {
                        fields.push("secret".to_owned());
                    }
                    if !fields.is_empty() {
                        let secret = desired.rotate_webhook_secrets;
                        changes.push(Change {
                            kind: "webhook",
                            name: url.clone(),
                            action: "update",
                            fields,
                            step: step(Some(webhook.id.clone()), secret),
                        });
                    }
                }
            }
        }
    }
    Ok(changes)
}

fn opt_name(name: &Option<String>) -> String {
    name.clone().unwrap_or_default()
}

// ---- impact -------------------------------------------------------------------------------

/// What the next opening of a window would install on one node.
#[derive(Debug, Serialize)]
struct Impact {
    window: String,
    node_id: Option<String>,
    hostname: Option<String>,
    baseline_id: Option<String>,
    /// `name.arch target-version` of every Missing or Failed patch.
    patches: Vec<String>,
    /// Why the preview could not be computed, when it could not.
    error: Option<String>,
}

/// Nodes per preview request of `plan`'s impact.
const IMPACT_PAGE: u32 = 500;

/// One node's entry of the impact: its Missing and Failed patches, or why there are none.
fn impact_of(window: &str, node: pw_api::server::agent::NodePreview) -> Impact {
    let patches = node
        .evaluation
        .as_ref()
        .map(|e| {
            e.patches
                .iter()
                .filter(|p| p.state == "Missing" || p.state == "Failed")
                .map(|p| {
                    format!(
                        "{}.{} {}",
                        p.name,
                        p.arch,
                        p.target.as_deref().unwrap_or("-")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let error = match (&node.evaluation, node.error) {
        (None, None) => Some("no evaluation".to_owned()),
        (_, error) => error,
    };
    Impact {
        window: window.to_owned(),
        node_id: Some(node.node_id),
        hostname: Some(node.hostname),
        baseline_id: node.baseline_id,
        patches,
        error,
    }
}

fn impact(client: &Client, desired: &Desired) -> Vec<Impact> {
    let windows = client.windows().unwrap_or_default();
    let mut entries = Vec::new();
    for (name, window) in &desired.windows {
        if !window
            .tasks
            .values()
            .any(|t| t.operation == TaskOperation::Install)
        {
            continue;
        }
        let at = windows
            .iter()
            .find(|w| &w.spec.name == name)
            .and_then(|w| w.next_execution_at);
        let mut seen = std::collections::BTreeSet::new();
        let first = entries.len();
        for target in window.targets.values() {
            // Pages of nodes: the server's memory and each response stay small however many
            // nodes the target selects.
            let mut after = None;
            loop {
                let request = PreviewRequest {
                    baseline_id: None,
                    node_ids: Vec::new(),
                    targets: target.targets.clone(),
                    at,
                    include_not_applicable: false,
                    // The impact is what would be installed.
                    states: vec!["Missing".to_owned(), "Failed".to_owned()],
                    limit: Some(IMPACT_PAGE),
                    after: after.take(),
                };
                let response = match client.preview(&request) {
                    Ok(response) => response,
                    Err(error) => {
                        entries.push(Impact {
                            window: name.clone(),
                            node_id: None,
                            hostname: None,
                            baseline_id: None,
                            patches: Vec::new(),
                            error: Some(format!("preview failed: {error}")),
                        });
                        break;
                    }
                };
                for node in response.nodes {
                    if !seen.insert(node.node_id.clone()) {
                        continue;
                    }
                    entries.push(impact_of(name, node));
                }
                match response.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        // By hostname, as the server lists nodes.
        entries[first..].sort_by(|a, b| (&a.hostname, &a.node_id).cmp(&(&b.hostname, &b.node_id)));
    }
    entries
}

// ---- apply --------------------------------------------------------------------------------

fn apply_change(client: &Client, desired: &Desired, change: &Change) -> anyhow::Result<()> {
    match &change.step {
        Step::CreateBaseline => {
            client.create_baseline(&desired.baselines[&change.name].text)?;
        }
        Step::UpdateBaseline { id, text } => {
            client.update_baseline(id, text)?;
        }
        Step::RegisterGroup {
            baseline,
            replace_os,
        } => {
            let id = client
                .baselines()?
                .into_iter()
                .find(|s| &s.name == baseline && !s.predefined)
                .map(|s| s.id)
                .with_context(|| format!("baseline `{baseline}` not found on the server"))?;
            if let Some(os) = replace_os {
                client.deregister_patch_group(&change.name, os)?;
            }
            client.register_patch_group(&change.name, &id)?;
        }
        Step::Window(step) => {
            let want = &desired.windows[&change.name];
            let id = match &step.id {
                None => client.create_window(&want.spec)?.id,
                Some(id) => {
                    if step.update_spec {
                        client.update_window(id, &want.spec)?;
                    }
                    id.clone()
                }
            };
            if step.replace_tasks && step.id.is_some() {
                for task in client.window_tasks(&id)? {
                    client.delete_window_task(&id, &task.id)?;
                }
            }
            let mut target_ids: Vec<String> = Vec::new();
            if step.replace_targets {
                if step.id.is_some() {
                    for target in client.window_targets(&id)? {
                        client.delete_window_target(&id, &target.id)?;
                    }
                }
                for spec in want.targets.values() {
                    target_ids.push(client.create_window_target(&id, spec)?.id);
                }
            } else {
                target_ids = client
                    .window_targets(&id)?
                    .into_iter()
                    .map(|t| t.id)
                    .collect();
            }
            target_ids.sort();
            if step.replace_tasks {
                for spec in want.tasks.values() {
                    let mut spec = spec.clone();
                    spec.targets = vec![TargetFilter {
                        key: "WindowTargetIds".to_owned(),
                        values: target_ids.clone(),
                    }];
                    client.create_window_task(&id, &spec)?;
                }
            }
        }
        Step::Promotion { id, key } => {
            let want = &desired.promotions[key];
            match id {
                None => {
                    client.create_promotion(want)?;
                }
                Some(id) => {
                    client.update_promotion(id, want)?;
                }
            }
        }
        Step::Webhook { id, url, secret } => {
            let want = &desired.webhooks[url];
            match id {
                None => {
                    client.create_webhook(want)?;
                }
                Some(id) => {
                    client.update_webhook(
                        id,
                        &WebhookUpdate {
                            url: want.url.clone(),
                            secret: secret.then(|| want.secret.clone()),
                            events: want.events.clone(),
                            description: want.description.clone(),
                            critical_days: want.critical_days,
                        },
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn describe(change: &Change) -> String {
    let sign = if change.action == "create" { "+" } else { "~" };
    let mut line = format!("{sign} {} {} {}", change.action, change.kind, change.name);
    if !change.fields.is_empty() {
        line.push_str(&format!(" ({} differ)", change.fields.join(", ")));
    }
    line
}

#[derive(Debug, Serialize)]
struct PlanOutput {
    changes: Vec<Change>,
    impact: Vec<Impact>,
}

/// Runs `plan`.
pub(crate) fn run_plan(args: &DeclareArgs, printer: &Printer) -> u8 {
    let desired = match load(args, printer) {
        Ok(desired) => desired,
        Err(InvalidFiles(error)) => {
            printer.error(&format!("{error:#}"));
            return exit_code::USAGE;
        }
    };
    let output = args.connection.output;
    let body = || -> anyhow::Result<()> {
        let client = args.connection.client(printer)?;
        let changes = compare(&client, &desired, printer)?;
        let impact = impact(&client, &desired);
        if output == Output::Json {
            return print_json(printer, &PlanOutput { changes, impact });
        }
        if changes.is_empty() {
            printer.line("no changes: the server matches the files");
        }
        for change in &changes {
            printer.line(&describe(change));
        }
        for entry in &impact {
            let node = entry.node_id.as_deref().unwrap_or("-");
            match &entry.error {
                Some(error) => printer.line(&format!(
                    "window {}: node {node}: no preview: {error}",
                    entry.window
                )),
                None => printer.line(&format!(
                    "window {}: node {node}: {} patch(es): {}",
                    entry.window,
                    entry.patches.len(),
                    entry.patches.join(", ")
                )),
            }
        }
        Ok(())
    };
    match body() {
        Ok(()) => exit_code::OK,
        Err(error) => error_exit(printer, &error),
    }
}

/// Runs `apply`.
pub(crate) fn run_apply(args: &DeclareArgs, printer: &Printer) -> u8 {
    let desired = match load(args, printer) {
        Ok(desired) => desired,
        Err(InvalidFiles(error)) => {
            printer.error(&format!("{error:#}"));
            return exit_code::USAGE;
        }
    };
    let output = args.connection.output;
    let body = || -> anyhow::Result<()> {
        let client = args.connection.client(printer)?;
        let changes = compare(&client, &desired, printer)?;
        for change in &changes {
            apply_change(&client, &desired, change)
                .with_context(|| format!("{} {} {}", change.action, change.kind, change.name))?;
            if output == Output::Table {
                printer.line(&describe(change));
            }
        }
        if output == Output::Json {
            return print_json(printer, &serde_json::json!({ "applied": changes }));
        }
        printer.line(&format!("{} change(s) applied", changes.len()));
        Ok(())
    };
    match body() {
        Ok(()) => exit_code::OK,
        Err(error) => error_exit(printer, &error),
    }
}
