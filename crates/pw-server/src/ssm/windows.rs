//! SSM operations on maintenance windows, their targets and tasks, translated to and from the
//! service layer (`crate::service::windows`). A task is a `RUN_COMMAND` task of
//! `AWS-RunPatchBaseline` whose `Operation` (Scan or Install), `RebootOption` and
//! `InstallOverrideList` parameters are Patchwarden's Scan and Install tasks; any other task
//! is refused with a `ValidationException` that says what is supported.

use pw_api::server::windows::{
    CutoffBehavior, RebootOption, TargetFilter, TaskOperation, TaskSpec, WindowSpec,
    WindowTargetSpec,
};
use pw_store::{WindowPart, WindowPartRecord};
use serde_json::{Map, Value, json};

use super::{Input, Principal, SsmError, epoch, key_values, paged, strings};
use crate::AppState;
use crate::service::stored_json;
use crate::service::windows::{self as service, load};

pub(crate) const OPERATIONS: &[&str] = &[
    "CreateMaintenanceWindow",
    "GetMaintenanceWindow",
    "UpdateMaintenanceWindow",
    "DeleteMaintenanceWindow",
    "DescribeMaintenanceWindows",
    "RegisterTargetWithMaintenanceWindow",
    "DeregisterTargetFromMaintenanceWindow",
    "UpdateMaintenanceWindowTarget",
    "DescribeMaintenanceWindowTargets",
    "RegisterTaskWithMaintenanceWindow",
    "DeregisterTaskFromMaintenanceWindow",
    "UpdateMaintenanceWindowTask",
    "GetMaintenanceWindowTask",
    "DescribeMaintenanceWindowTasks",
    "DescribeMaintenanceWindowSchedule",
    "DescribeMaintenanceWindowExecutions",
    "GetMaintenanceWindowExecution",
    "DescribeMaintenanceWindowExecutionTasks",
    "GetMaintenanceWindowExecutionTask",
    "DescribeMaintenanceWindowExecutionTaskInvocations",
    "CancelMaintenanceWindowExecution",
];

fn window_id(input: &Input) -> Result<String, SsmError> {
    let id = input.required("WindowId", 20..=20)?;
    if !id.starts_with("mw-") || !id[3..].bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SsmError::validation(format!(
            "1 validation error detected: Value '{id}' at 'windowId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^mw-[0-9a-f]{{17}}$"
        )));
    }
    Ok(id)
}

fn uuid_member(input: &Input, member: &str) -> Result<String, SsmError> {
    let id = input.required(member, 36..=36)?;
    let ok = id.char_indices().all(|(i, c)| {
        if [8, 13, 18, 23].contains(&i) {
            c == '-'
        } else {
            c.is_ascii_hexdigit()
        }
    });
    if !ok {
        return Err(SsmError::validation(format!(
            "1 validation error detected: Value '{id}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}$",
            super::camel(member)
        )));
    }
    Ok(id)
}

fn int(
    input: &Input,
    member: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, SsmError> {
    let Some(value) = input.get(member) else {
        return Ok(None);
    };
    let n = value.as_i64().ok_or_else(|| {
        SsmError::new(
            "SerializationException",
            format!("{member} must be an integer"),
        )
    })?;
    if !range.contains(&n) {
        return Err(SsmError::validation(format!(
            "1 validation error detected: Value '{n}' at '{}' failed to satisfy constraint: Member must have value between {} and {}",
            super::camel(member),
            range.start(),
            range.end()
        )));
    }
    Ok(Some(n))
}

fn boolean(input: &Input, member: &str) -> Result<Option<bool>, SsmError> {
    input
        .get(member)
        .map(|v| {
            v.as_bool().ok_or_else(|| {
                SsmError::new(
                    "SerializationException",
                    format!("{member} must be a boolean"),
                )
            })
        })
        .transpose()
}

fn date(input: &Input, member: &str) -> Result<Option<jiff::Timestamp>, SsmError> {
    let Some(text) = input.string(member, false, 1..=64)? else {
        return Ok(None);
    };
    text.parse::<jiff::Timestamp>()
        .or_else(|_| {
            text.parse::<jiff::civil::DateTime>()
                .map_err(|e| e.to_string())
                .and_then(|dt| {
                    dt.to_zoned(jiff::tz::TimeZone::UTC)
                        .map(|z| z.timestamp())
                        .map_err(|e| e.to_string())
                })
        })
        .map(Some)
        .map_err(|_| {
            SsmError::validation(format!(
                "{member} `{text}` is not an ISO-8601 date and time (2025-03-01T00:00:00Z)"
            ))
        })
}

fn targets(input: &Input, member: &str) -> Result<Option<Vec<TargetFilter>>, SsmError> {
    let Some(value) = input.get(member) else {
        return Ok(None);
    };
    let list = value.as_array().ok_or_else(|| {
        SsmError::new("SerializationException", format!("{member} must be a list"))
    })?;
    list.iter()
        .map(|target| {
            let key = target
                .get("Key")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let values = strings(target.get("Values"));
            Ok(TargetFilter { key, values })
        })
        .collect::<Result<Vec<_>, SsmError>>()
        .map(Some)
}

fn targets_to_wire(filters: &[TargetFilter]) -> Value {
    json!(
        filters
            .iter()
            .map(|f| json!({"Key": f.key, "Values": f.values}))
            .collect::<Vec<_>>()
    )
}

fn insert_opt(map: &mut Map<String, Value>, member: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(member.to_owned(), value);
    }
}

fn iso(at: Option<jiff::Timestamp>) -> Option<Value> {
    at.map(|t| json!(t.to_string()))
}

fn window_to_ssm(
    record: &pw_store::WindowRecord,
    full: bool,
) -> Result<Map<String, Value>, SsmError> {
    let window = service::window_to_wire(record)?;
    let spec = &window.spec;
    let mut map = Map::new();
    map.insert("WindowId".to_owned(), json!(window.id));
    map.insert("Name".to_owned(), json!(spec.name));
    insert_opt(
        &mut map,
        "Description",
        spec.description.clone().map(Value::from),
    );
    insert_opt(&mut map, "StartDate", iso(spec.start_date));
    insert_opt(&mut map, "EndDate", iso(spec.end_date));
    map.insert("Schedule".to_owned(), json!(spec.schedule));
    insert_opt(
        &mut map,
        "ScheduleTimezone",
        spec.schedule_timezone.clone().map(Value::from),
    );
    insert_opt(
        &mut map,
        "ScheduleOffset",
        spec.schedule_offset.map(Value::from),
    );
    map.insert("Duration".to_owned(), json!(spec.duration_hours));
    map.insert("Cutoff".to_owned(), json!(spec.cutoff_hours));
    map.insert("Enabled".to_owned(), json!(spec.enabled));
    insert_opt(
        &mut map,
        "NextExecutionTime",
        window.next_execution_time.clone().map(Value::from),
    );
    if full {
        map.insert(
            "AllowUnassociatedTargets".to_owned(),
            json!(spec.allow_unassociated_targets),
        );
        map.insert("CreatedDate".to_owned(), epoch(window.created_at));
        map.insert("ModifiedDate".to_owned(), epoch(window.updated_at));
    }
    Ok(map)
}

/// A window spec from the input laid over `base` (`None`: create).
fn window_spec(
    input: &Input,
    base: Option<WindowSpec>,
    replace: bool,
) -> Result<WindowSpec, SsmError> {
    let create = base.is_none();
    let required = create || replace;
    let name = input.string("Name", required, 3..=128)?;
    let schedule = input.string("Schedule", required, 1..=256)?;
    let duration = int(input, "Duration", 1..=24)?;
    let cutoff = int(input, "Cutoff", 0..=23)?;
    let allow = boolean(input, "AllowUnassociatedTargets")?;
    if required && (duration.is_none() || cutoff.is_none() || allow.is_none()) {
        let missing = if duration.is_none() {
            "duration"
        } else if cutoff.is_none() {
            "cutoff"
        } else {
            "allowUnassociatedTargets"
        };
        return Err(SsmError::validation(format!(
            "1 validation error detected: Value null at '{missing}' failed to satisfy constraint: Member must not be null"
        )));
    }
    // Empty strings are allowed here: they clear the member (Terraform sends them).
    let description = input.string("Description", false, 0..=128)?;
    let timezone = input.string("ScheduleTimezone", false, 0..=64)?;
    let offset = int(input, "ScheduleOffset", 1..=6)?;
    let start = date(input, "StartDate")?;
    let end = date(input, "EndDate")?;
    let enabled = boolean(input, "Enabled")?;
    let fresh = WindowSpec {
        name: String::new(),
        description: None,
        schedule: String::new(),
        schedule_timezone: None,
        schedule_offset: None,
        start_date: None,
        end_date: None,
        duration_hours: 1,
        cutoff_hours: 0,
        allow_unassociated_targets: false,
        enabled: true,
    };
    let mut spec = match base {
        Some(old) if !replace => old,
        Some(old) => WindowSpec {
            enabled: old.enabled,
            ..fresh
        },
        None => fresh,
    };
    let small = |n: i64| u8::try_from(n).unwrap_or(u8::MAX);
    if let Some(name) = name {
        spec.name = name;
    }
    if let Some(schedule) = schedule {
        spec.schedule = schedule;
    }
    if let Some(n) = duration {
        spec.duration_hours = small(n);
    }
    if let Some(n) = cutoff {
        spec.cutoff_hours = small(n);
    }
    if let Some(allow) = allow {
        spec.allow_unassociated_targets = allow;
    }
    // An empty string clears an optional member (Terraform sends "" for a removed value).
    let clear = |text: Option<String>, old: Option<String>| match text {
        Some(t) if t.is_empty() => None,
        Some(t) => Some(t),
        None => old,
    };
    spec.description = clear(description, spec.description.take());
    spec.schedule_timezone = clear(timezone, spec.schedule_timezone.take());
    if offset.is_some() {
        spec.schedule_offset = offset.map(small);
    }
    if input.has("StartDate") {
        spec.start_date = start;
    }
    if input.has("EndDate") {
        spec.end_date = end;
    }
    if let Some(enabled) = enabled {
        spec.enabled = enabled;
    }
    Ok(spec)
}

fn target_to_ssm(record: &WindowPartRecord) -> Result<Value, SsmError> {
    let spec: WindowTargetSpec = stored_json("window target", &record.spec_json)?;
    let mut map = Map::new();
    map.insert("WindowId".to_owned(), json!(record.window_id));
    map.insert("WindowTargetId".to_owned(), json!(record.id));
    map.insert("ResourceType".to_owned(), json!("INSTANCE"));
    map.insert("Targets".to_owned(), targets_to_wire(&spec.targets));
    insert_opt(
        &mut map,
        "OwnerInformation",
        spec.owner_information.map(Value::from),
    );
    insert_opt(&mut map, "Name", spec.name.map(Value::from));
    insert_opt(&mut map, "Description", spec.description.map(Value::from));
    Ok(Value::Object(map))
}

/// The `AWS-RunPatchBaseline` parameters of a task input: `TaskInvocationParameters.RunCommand
/// .Parameters`, else the older `TaskParameters` (`{"Operation": {"Values": [...]}}`).
fn run_patch_parameters(input: &Input) -> Result<Map<String, Value>, SsmError> {
    if let Some(invocation) = input.get("TaskInvocationParameters") {
        let invocation = invocation.as_object().ok_or_else(|| {
            SsmError::new(
                "SerializationException",
                "TaskInvocationParameters must be an object",
            )
        })?;
        if let Some(other) = invocation.keys().find(|k| *k != "RunCommand") {
            return Err(SsmError::validation(format!(
                "TaskInvocationParameters.{other} is not supported: Patchwarden runs RUN_COMMAND tasks of AWS-RunPatchBaseline (TaskInvocationParameters.RunCommand)"
            )));
        }
    }
    let mut out = Map::new();
    if let Some(params) = input
        .get("TaskInvocationParameters")
        .and_then(|p| p.get("RunCommand"))
        .and_then(|r| r.get("Parameters"))
        .and_then(Value::as_object)
    {
        for (key, value) in params {
            out.insert(key.clone(), value.clone());
        }
    }
    if let Some(params) = input.get("TaskParameters").and_then(Value::as_object) {
        for (key, value) in params {
            if let Some(values) = value.get("Values") {
                out.entry(key.clone()).or_insert_with(|| values.clone());
            }
        }
    }
    Ok(out)
}

/// The one value of an AWS-RunPatchBaseline parameter (a list of one string).
fn one_value(params: &Map<String, Value>, key: &str) -> Result<Option<String>, SsmError> {
    let Some(value) = params.get(key) else {
        return Ok(None);
    };
    match value.as_array().map(Vec::as_slice) {
        Some([Value::String(text)]) => Ok(Some(text.clone())),
        _ => Err(SsmError::validation(format!(
            "AWS-RunPatchBaseline parameter {key} takes one value (a list of one string), not {value}"
        ))),
    }
}

/// Members of a task kept and answered back, not used: the role, logging and alarm settings
/// (Patchwarden runs the command itself and keeps its output), and `TaskArn` as registered.
const KEPT_TASK_MEMBERS: &[&str] = &[
    "ServiceRoleArn",
    "LoggingInfo",
    "AlarmConfiguration",
    "TaskArn",
];

/// Run Command members beside `Parameters` and `TimeoutSeconds`, kept and answered back:
/// Patchwarden has no documents, S3 output or notifications of Run Command.
const KEPT_RUN_COMMAND_MEMBERS: &[&str] = &[
    "Comment",
    "DocumentHash",
    "DocumentHashType",
    "DocumentVersion",
    "OutputS3BucketName",
    "OutputS3KeyPrefix",
    "ServiceRoleArn",
    "NotificationConfig",
    "CloudWatchOutputConfig",
];

/// Checks the kept members of a task input against the model and returns them (only the
/// members given; the kept Run Command members under `RunCommand`, when it is given).
fn task_kept(input: &Input) -> Result<Map<String, Value>, SsmError> {
    use super::{check_bool, check_enum, check_string};
    let mut kept = Map::new();
    check_string(
        input.get("ServiceRoleArn"),
        "serviceRoleArn",
        false,
        0..=2048,
    )?;
    if let Some(logging) = input.get("LoggingInfo") {
        check_string(
            logging.get("S3BucketName"),
            "loggingInfo.s3BucketName",
            true,
            3..=63,
        )?;
        check_string(
            logging.get("S3KeyPrefix"),
            "loggingInfo.s3KeyPrefix",
            false,
            0..=500,
        )?;
        check_string(
            logging.get("S3Region"),
            "loggingInfo.s3Region",
            true,
            3..=20,
        )?;
    }
    if let Some(alarms) = input.get("AlarmConfiguration") {
        check_bool(
            alarms.get("IgnorePollAlarmFailure"),
            "alarmConfiguration.ignorePollAlarmFailure",
        )?;
        let list = alarms.get("Alarms").and_then(Value::as_array);
        let ok = list.is_some_and(|list| {
            list.len() == 1
                && list.iter().all(|alarm| {
                    check_string(
                        alarm.get("Name"),
                        "alarmConfiguration.alarms.member.name",
                        true,
                        1..=255,
                    )
                    .is_ok()
                })
        });
        if !ok {
            return Err(SsmError::validation(
                "AlarmConfiguration.Alarms: exactly one alarm with a Name of 1 to 255 characters",
            ));
        }
    }
    for member in KEPT_TASK_MEMBERS {
        if let Some(value) = input.0.get(*member) {
            if *member == "TaskArn" && value.as_str() == Some("AWS-RunPatchBaseline") {
                continue;
            }
            kept.insert((*member).to_owned(), value.clone());
        }
    }
    if let Some(run) = input
        .get("TaskInvocationParameters")
        .and_then(|p| p.get("RunCommand"))
    {
        let path = "taskInvocationParameters.runCommand";
        check_string(
            run.get("Comment"),
            &format!("{path}.comment"),
            false,
            0..=100,
        )?;
        check_string(
            run.get("DocumentHash"),
            &format!("{path}.documentHash"),
            false,
            0..=256,
        )?;
        check_enum(
            run.get("DocumentHashType"),
            &format!("{path}.documentHashType"),
            &["Sha256", "Sha1"],
        )?;
        if let Some(version) = run.get("DocumentVersion") {
            let ok = version.as_str().is_some_and(|v| {
                v == "$DEFAULT"
                    || v == "$LATEST"
                    || (!v.starts_with('0')
                        && !v.is_empty()
                        && v.bytes().all(|b| b.is_ascii_digit()))
            });
            if !ok {
                return Err(SsmError::validation(format!(
                    "{path}.documentVersion: {version} is not $DEFAULT, $LATEST or a version number"
                )));
            }
        }
        check_string(
            run.get("OutputS3BucketName"),
            &format!("{path}.outputS3BucketName"),
            false,
            3..=63,
        )?;
        check_string(
            run.get("OutputS3KeyPrefix"),
            &format!("{path}.outputS3KeyPrefix"),
            false,
            0..=500,
        )?;
        check_string(
            run.get("ServiceRoleArn"),
            &format!("{path}.serviceRoleArn"),
            false,
            0..=2048,
        )?;
        if let Some(notification) = run.get("NotificationConfig") {
            check_enum(
                notification.get("NotificationType"),
                &format!("{path}.notificationConfig.notificationType"),
                &["Command", "Invocation"],
            )?;
            for event in notification
                .get("NotificationEvents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                check_enum(
                    Some(event),
                    &format!("{path}.notificationConfig.notificationEvents"),
                    &[
                        "All",
                        "InProgress",
                        "Success",
                        "TimedOut",
                        "Cancelled",
                        "Failed",
                    ],
                )?;
            }
        }
        if let Some(cloudwatch) = run.get("CloudWatchOutputConfig") {
            check_string(
                cloudwatch.get("CloudWatchLogGroupName"),
                &format!("{path}.cloudWatchOutputConfig.cloudWatchLogGroupName"),
                false,
                1..=512,
            )?;
            check_bool(
                cloudwatch.get("CloudWatchOutputEnabled"),
                &format!("{path}.cloudWatchOutputConfig.cloudWatchOutputEnabled"),
            )?;
        }
        let members: Map<String, Value> = KEPT_RUN_COMMAND_MEMBERS
            .iter()
            .filter_map(|m| run.get(*m).map(|v| ((*m).to_owned(), v.clone())))
            .collect();
        kept.insert("RunCommand".to_owned(), Value::Object(members));
    }
    Ok(kept)
}

/// The kept members of a task after an update: those given replace, `RunCommand` when
/// `TaskInvocationParameters.RunCommand` is given; with `replace`, nothing else survives.
fn task_kept_after(
    old: Map<String, Value>,
    given: Map<String, Value>,
    replace: bool,
) -> Map<String, Value> {
    let mut out = if replace { Map::new() } else { old };
    for (key, value) in given {
        out.insert(key, value);
    }
    out.retain(|_, v| !v.is_null() && v.as_object().is_none_or(|o| !o.is_empty()));
    out
}

/// A name of a window target or task: 3 to 128 of `a-zA-Z0-9_-.`.
fn part_name(input: &Input) -> Result<Option<String>, SsmError> {
    let name = input.string("Name", false, 3..=128)?;
    if let Some(name) = &name
        && !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        return Err(SsmError::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{{3,128}}$"
        )));
    }
    Ok(name)
}

/// A task spec from the input laid over `base` (`None`: register).
fn task_spec(input: &Input, base: Option<TaskSpec>, replace: bool) -> Result<TaskSpec, SsmError> {
    let create = base.is_none();
    let required = create || replace;
    // UpdateMaintenanceWindowTask has no TaskType: only a registration names it.
    let task_type = input.string("TaskType", create, 1..=32)?;
    if let Some(kind) = &task_type
        && kind != "RUN_COMMAND"
    {
        return Err(SsmError::validation(format!(
            "TaskType {kind} is not supported: Patchwarden runs RUN_COMMAND tasks of AWS-RunPatchBaseline (Operation Scan or Install)"
        )));
    }
    let arn = input.string("TaskArn", required, 1..=1600)?;
    if let Some(arn) = &arn
        && arn.rsplit('/').next() != Some("AWS-RunPatchBaseline")
    {
        return Err(SsmError::validation(format!(
            "TaskArn {arn} is not supported: Patchwarden runs AWS-RunPatchBaseline (Operation Scan or Install)"
        )));
    }
    let params = run_patch_parameters(input)?;
    let operation = match one_value(&params, "Operation")?.as_deref() {
        Some("Install") => Some(TaskOperation::Install),
        Some("Scan") => Some(TaskOperation::Scan),
        Some(other) => {
            return Err(SsmError::validation(format!(
                "AWS-RunPatchBaseline Operation `{other}` is not one of Scan, Install"
            )));
        }
        None => None,
    };
    let reboot = match one_value(&params, "RebootOption")?.as_deref() {
        Some("NoReboot") => Some(RebootOption::NoReboot),
        Some("RebootIfNeeded") => Some(RebootOption::RebootIfNeeded),
        Some(other) => {
            return Err(SsmError::validation(format!(
                "AWS-RunPatchBaseline RebootOption `{other}` is not one of RebootIfNeeded, NoReboot"
            )));
        }
        None => None,
    };
    for key in params.keys() {
        if !["Operation", "RebootOption", "InstallOverrideList"].contains(&key.as_str()) {
            return Err(SsmError::validation(format!(
                "AWS-RunPatchBaseline parameter {key} is not supported (Operation, RebootOption and InstallOverrideList are; a window execution is its own snapshot, and a baseline is chosen by patch group)"
            )));
        }
    }
    if replace && operation.is_none() {
        return Err(SsmError::validation(
            "with Replace, AWS-RunPatchBaseline needs the parameter Operation (Scan or Install)",
        ));
    }
    let timeout = input
        .get("TaskInvocationParameters")
        .and_then(|p| p.get("RunCommand"))
        .and_then(|r| r.get("TimeoutSeconds"))
        .map(|v| {
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| SsmError::validation("RunCommand.TimeoutSeconds must be an integer"))
        })
        .transpose()?;
    let fresh = TaskSpec {
        name: None,
        description: None,
        operation: TaskOperation::Scan,
        targets: Vec::new(),
        priority: 1,
        max_concurrency: "1".to_owned(),
        max_errors: "0".to_owned(),
        cutoff_behavior: CutoffBehavior::ContinueTask,
        reboot_option: RebootOption::RebootIfNeeded,
        install_override_list: Vec::new(),
        baseline_override: None,
        timeout_seconds: None,
        execution_timeout_seconds: None,
        health_checks: Vec::new(),
    };
    let mut spec = match base {
        Some(old) if !replace => old,
        _ => fresh,
    };
    if create && operation.is_none() {
        return Err(SsmError::validation(
            "AWS-RunPatchBaseline needs the parameter Operation (Scan or Install)",
        ));
    }
    if let Some(op) = operation {
        spec.operation = op;
    }
    if let Some(reboot) = reboot {
        spec.reboot_option = reboot;
    }
    if timeout.is_some() {
        spec.timeout_seconds = timeout;
    }
    if let Some(list) = one_value(&params, "InstallOverrideList")? {
        spec.install_override_list = vec![list];
    }
    if let Some(targets) = targets(input, "Targets")? {
        spec.targets = targets;
    }
    if let Some(priority) = int(input, "Priority", 0..=i64::from(u32::MAX))? {
        spec.priority = u32::try_from(priority).unwrap_or(1);
    }
    if let Some(text) = input.string("MaxConcurrency", false, 1..=7)? {
        spec.max_concurrency = text;
    }
    if let Some(text) = input.string("MaxErrors", false, 1..=7)? {
        spec.max_errors = text;
    }
    if let Some(name) = part_name(input)? {
        spec.name = Some(name);
    }
    if let Some(description) = input.string("Description", false, 1..=128)? {
        spec.description = Some(description);
    }
    match input.string("CutoffBehavior", false, 1..=32)?.as_deref() {
        Some("CANCEL_TASK") => spec.cutoff_behavior = CutoffBehavior::CancelTask,
        Some("CONTINUE_TASK") => spec.cutoff_behavior = CutoffBehavior::ContinueTask,
        Some(other) => {
            return Err(SsmError::validation(format!(
                "CutoffBehavior {other} is not one of CONTINUE_TASK, CANCEL_TASK"
            )));
        }
        None => {}
    }
    Ok(spec)
}

fn task_to_ssm(
    record: &WindowPartRecord,
    describe: bool,
    mut kept: Map<String, Value>,
) -> Result<Value, SsmError> {
    let spec: TaskSpec = stored_json("window task", &record.spec_json)?;
    let mut parameters = Map::new();
    parameters.insert("Operation".to_owned(), json!([spec.operation.as_str()]));
    parameters.insert(
        "RebootOption".to_owned(),
        json!([spec.reboot_option.as_str()]),
    );
    if let Some(list) = spec.install_override_list.first() {
        parameters.insert("InstallOverrideList".to_owned(), json!([list]));
    }
    let mut map = Map::new();
    map.insert("WindowId".to_owned(), json!(record.window_id));
    map.insert("WindowTaskId".to_owned(), json!(record.id));
    map.insert(
        "TaskArn".to_owned(),
        kept.remove("TaskArn")
            .unwrap_or_else(|| json!("AWS-RunPatchBaseline")),
    );
    map.insert(
        if describe { "Type" } else { "TaskType" }.to_owned(),
        json!("RUN_COMMAND"),
    );
    map.insert("Targets".to_owned(), targets_to_wire(&spec.targets));
    map.insert("Priority".to_owned(), json!(spec.priority));
    map.insert("MaxConcurrency".to_owned(), json!(spec.max_concurrency));
    map.insert("MaxErrors".to_owned(), json!(spec.max_errors));
    map.insert(
        "CutoffBehavior".to_owned(),
        json!(spec.cutoff_behavior.as_str()),
    );
    insert_opt(&mut map, "Name", spec.name.map(Value::from));
    insert_opt(&mut map, "Description", spec.description.map(Value::from));
    let run_command = kept.remove("RunCommand");
    for (key, value) in kept {
        map.insert(key, value);
    }
    if describe {
        let legacy: Map<String, Value> = parameters
            .iter()
            .map(|(k, v)| (k.clone(), json!({"Values": v})))
            .collect();
        map.insert("TaskParameters".to_owned(), Value::Object(legacy));
    } else {
        let mut run = match run_command {
            Some(Value::Object(members)) => members,
            _ => Map::new(),
        };
        run.insert("Parameters".to_owned(), Value::Object(parameters));
        insert_opt(
            &mut run,
            "TimeoutSeconds",
            spec.timeout_seconds.map(Value::from),
        );
        map.insert(
            "TaskInvocationParameters".to_owned(),
            json!({ "RunCommand": run }),
        );
    }
    Ok(Value::Object(map))
}

/// The `Filters` of a window listing: at most 5, each key one of `allowed`, values 1 to 256
/// characters.
fn filters(input: &Input, allowed: &[&str]) -> Result<Vec<(String, Vec<String>)>, SsmError> {
    if let Some(list) = input.get("Filters") {
        let items = list
            .as_array()
            .ok_or_else(|| SsmError::new("SerializationException", "Filters must be a list"))?;
        if items.len() > 5 {
            return Err(SsmError::validation(
                "1 validation error detected: Value at 'filters' failed to satisfy constraint: Member must have length less than or equal to 5",
            ));
        }
    }
    let filters = key_values(input.get("Filters"), "Key", "Values");
    for (key, values) in &filters {
        if !allowed.contains(&key.as_str()) {
            return Err(SsmError::validation(format!(
                "filter key `{key}` is not supported here; the keys are {}",
                allowed.join(", ")
            )));
        }
        if let Some(bad) = values
            .iter()
            .find(|v| v.is_empty() || v.chars().count() > 256)
        {
            return Err(SsmError::validation(format!(
                "filter {key}: value `{bad}` is not 1 to 256 characters"
            )));
        }
    }
    Ok(filters)
}

/// Keeps the items whose `Status` is among the values of every `Status` filter.
fn by_status(items: Vec<Value>, filters: &[(String, Vec<String>)]) -> Vec<Value> {
    items
        .into_iter()
        .filter(|item| {
            let status = item.get("Status").and_then(Value::as_str).unwrap_or("");
            filters
                .iter()
                .all(|(_, values)| values.is_empty() || values.iter().any(|v| v == status))
        })
        .collect()
}

pub(crate) async fn dispatch(
    state: &AppState,
    principal: &Principal,
    operation: &str,
    input: &Input,
) -> Result<Value, SsmError> {
    let actor = principal.actor();
    match operation {
        "CreateMaintenanceWindow" => {
            let spec = window_spec(input, None, false)?;
            if let Some(id) = super::earlier_result(state, operation, input).await? {
                return Ok(json!({"WindowId": id}));
            }
            let tags = super::baselines::tag_list(input, "Tags", false)?;
            let record = service::create(state, &actor, &spec).await?;
            if !tags.is_empty() {
                state
                    .store()
                    .add_resource_tags("MaintenanceWindow", &record.id, &tags)
                    .await?;
            }
            super::record_result(state, operation, input, &record.id).await?;
            Ok(json!({"WindowId": record.id}))
        }
        "GetMaintenanceWindow" => {
            let id = window_id(input)?;
            let record = load(state, &id).await?;
            Ok(Value::Object(window_to_ssm(&record, true)?))
        }
        "UpdateMaintenanceWindow" => {
            let id = window_id(input)?;
            let replace = boolean(input, "Replace")?.unwrap_or(false);
            let record = load(state, &id).await?;
            let old: WindowSpec = stored_json("window", &record.spec_json)?;
            let spec = window_spec(input, Some(old), replace)?;
            let record = service::update(state, &actor, &id, &spec).await?;
            let mut map = window_to_ssm(&record, true)?;
            map.remove("CreatedDate");
            map.remove("ModifiedDate");
            map.remove("NextExecutionTime");
            Ok(Value::Object(map))
        }
        "DeleteMaintenanceWindow" => {
            let id = window_id(input)?;
            load(state, &id).await?;
            service::delete(state, &actor, &id).await?;
            state
                .store()
                .remove_resource_tags("MaintenanceWindow", &id, None)
                .await?;
            Ok(json!({"WindowId": id}))
        }
        "DescribeMaintenanceWindows" => {
            let max = input.max_results(10..=100, 100)?;
            let filters = filters(input, &["Name", "Enabled"])?;
            let mut items = Vec::new();
            for record in state.store().windows().await? {
                let map = window_to_ssm(&record, false)?;
                let keep = filters.iter().all(|(key, values)| {
                    values.is_empty()
                        || values.iter().any(|v| match key.as_str() {
                            "Name" => map.get("Name").and_then(Value::as_str) == Some(v.as_str()),
                            "Enabled" => {
                                map.get("Enabled")
                                    .and_then(Value::as_bool)
                                    .map(|b| b.to_string())
                                    == Some(v.to_ascii_lowercase())
                            }
                            _ => true,
                        })
                });
                if keep {
                    items.push(Value::Object(map));
                }
            }
            paged(&items, input, max, "WindowIdentities")
        }
        "RegisterTargetWithMaintenanceWindow" => {
            let id = window_id(input)?;
            let resource_type = input.required("ResourceType", 1..=32)?;
            if resource_type != "INSTANCE" {
                return Err(SsmError::validation(format!(
                    "ResourceType {resource_type} is not supported (INSTANCE is)"
                )));
            }
            let spec = WindowTargetSpec {
                name: part_name(input)?,
                description: input.string("Description", false, 1..=128)?,
                owner_information: input.string("OwnerInformation", false, 1..=128)?,
                targets: targets(input, "Targets")?.unwrap_or_default(),
            };
            if let Some(earlier) = super::earlier_result(state, operation, input).await? {
                return Ok(json!({"WindowTargetId": earlier}));
            }
            let record = service::create_target(state, &actor, &id, &spec).await?;
            super::record_result(state, operation, input, &record.id).await?;
            Ok(json!({"WindowTargetId": record.id}))
        }
        "DeregisterTargetFromMaintenanceWindow" => {
            let id = window_id(input)?;
            let target = uuid_member(input, "WindowTargetId")?;
            // Always as with `Safe: true`: a task never points at a target that is gone.
            super::check_bool(input.get("Safe"), "Safe")?;
            service::part(state, WindowPart::Target, &id, &target).await?;
            service::delete_target(state, &actor, &id, &target)
                .await
                .map_err(|error| match SsmError::from(error) {
                    SsmError {
                        kind: "ResourceInUseException",
                        message,
                    } => SsmError::new("TargetInUseException", message),
                    other => other,
                })?;
            Ok(json!({"WindowId": id, "WindowTargetId": target}))
        }
        "UpdateMaintenanceWindowTarget" => {
            let id = window_id(input)?;
            let target = uuid_member(input, "WindowTargetId")?;
            let replace = boolean(input, "Replace")?.unwrap_or(false);
            let record = service::part(state, WindowPart::Target, &id, &target).await?;
            let old: WindowTargetSpec = stored_json("window target", &record.spec_json)?;
            let keep =
                |new: Option<String>, old: Option<String>| if replace { new } else { new.or(old) };
            let new_targets = targets(input, "Targets")?;
            if replace && new_targets.is_none() {
                return Err(SsmError::validation(
                    "Targets is required when Replace is true",
                ));
            }
            let spec = WindowTargetSpec {
                name: keep(part_name(input)?, old.name),
                description: keep(
                    input.string("Description", false, 1..=128)?,
                    old.description,
                ),
                owner_information: keep(
                    input.string("OwnerInformation", false, 1..=128)?,
                    old.owner_information,
                ),
                targets: new_targets.unwrap_or(old.targets),
            };
            let record = service::update_target(state, &actor, &id, &target, &spec).await?;
            target_to_ssm(&record)
        }
        "DescribeMaintenanceWindowTargets" => {
            describe_parts(
                state,
                input,
                WindowPart::Target,
                "Targets",
                &["WindowTargetId", "OwnerInformation", "Type"],
                |value, key, v| {
                    let field = |name: &str| value.get(name).and_then(Value::as_str) == Some(v);
                    match key {
                        "WindowTargetId" | "OwnerInformation" => field(key),
                        "Type" => v == "INSTANCE",
                        _ => true,
                    }
                },
            )
            .await
        }
        "RegisterTaskWithMaintenanceWindow" => {
            let id = window_id(input)?;
            let spec = task_spec(input, None, false)?;
            let kept = task_kept(input)?;
            if let Some(earlier) = super::earlier_result(state, operation, input).await? {
                return Ok(json!({"WindowTaskId": earlier}));
            }
            let record = service::create_task(state, &actor, &id, &spec).await?;
            let kept = task_kept_after(Map::new(), kept, true);
            super::keep_members(state, "MaintenanceWindowTask", &record.id, &kept).await?;
            super::record_result(state, operation, input, &record.id).await?;
            Ok(json!({"WindowTaskId": record.id}))
        }
        "DeregisterTaskFromMaintenanceWindow" => {
            let id = window_id(input)?;
            let task = uuid_member(input, "WindowTaskId")?;
            service::part(state, WindowPart::Task, &id, &task).await?;
            service::delete_task(state, &actor, &id, &task).await?;
            super::keep_members(state, "MaintenanceWindowTask", &task, &Map::new()).await?;
            Ok(json!({"WindowId": id, "WindowTaskId": task}))
        }
        "UpdateMaintenanceWindowTask" => {
            let id = window_id(input)?;
            let task = uuid_member(input, "WindowTaskId")?;
            let replace = boolean(input, "Replace")?.unwrap_or(false);
            let record = service::part(state, WindowPart::Task, &id, &task).await?;
            let old: TaskSpec = stored_json("window task", &record.spec_json)?;
            let spec = task_spec(input, Some(old), replace)?;
            let given = task_kept(input)?;
            let record = service::update_task(state, &actor, &id, &task, &spec).await?;
            let old_kept = super::kept_members(state, "MaintenanceWindowTask", &task).await?;
            let kept = task_kept_after(old_kept, given, replace);
            super::keep_members(state, "MaintenanceWindowTask", &task, &kept).await?;
            task_to_ssm(&record, false, kept)
        }
        "GetMaintenanceWindowTask" => {
            let id = window_id(input)?;
            let task = uuid_member(input, "WindowTaskId")?;
            let record = service::part(state, WindowPart::Task, &id, &task).await?;
            let kept = super::kept_members(state, "MaintenanceWindowTask", &task).await?;
            task_to_ssm(&record, false, kept)
        }
        "DescribeMaintenanceWindowTasks" => {
            describe_parts(
                state,
                input,
                WindowPart::Task,
                "Tasks",
                &["WindowTaskId", "TaskArn", "TaskType", "Priority"],
                |value, key, v| match key {
                    "WindowTaskId" => value.get(key).and_then(Value::as_str) == Some(v),
                    "TaskArn" => v.ends_with("AWS-RunPatchBaseline"),
                    "TaskType" => v == "RUN_COMMAND",
                    "Priority" => value.get(key).map(ToString::to_string).as_deref() == Some(v),
                    _ => true,
                },
            )
            .await
        }
        _ => executions(state, principal, operation, input).await,
    }
}

/// DescribeMaintenanceWindowTargets and ...Tasks: a window's targets or tasks in their SSM
/// shape, kept when every filter has a value `matches` (value, key, filter value) accepts.
async fn describe_parts(
    state: &AppState,
    input: &Input,
    kind: WindowPart,
    member: &str,
    keys: &[&str],
    matches: impl Fn(&Value, &str, &str) -> bool,
) -> Result<Value, SsmError> {
    let id = window_id(input)?;
    let max = input.max_results(10..=100, 100)?;
    load(state, &id).await?;
    let filters = filters(input, keys)?;
    let mut items = Vec::new();
    for record in state.store().window_parts(kind, &id).await? {
        let value = match kind {
            WindowPart::Target => target_to_ssm(&record)?,
            WindowPart::Task => {
                let kept = super::kept_members(state, "MaintenanceWindowTask", &record.id).await?;
                task_to_ssm(&record, true, kept)?
            }
        };
        let keep = filters.iter().all(|(key, values)| {
            values.is_empty() || values.iter().any(|v| matches(&value, key, v))
        });
        if keep {
            items.push(value);
        }
    }
    paged(&items, input, max, member)
}

fn status_fields(
    map: &mut Map<String, Value>,
    status: pw_api::server::windows::ExecutionStatus,
    details: Option<&String>,
    started: Option<jiff::Timestamp>,
    ended: Option<jiff::Timestamp>,
) {
    map.insert("Status".to_owned(), json!(status.as_str()));
    insert_opt(map, "StatusDetails", details.map(|d| json!(d)));
    insert_opt(map, "StartTime", started.map(epoch));
    insert_opt(map, "EndTime", ended.map(epoch));
}

fn task_execution_to_ssm(
    execution_id: &str,
    task: &pw_api::server::windows::TaskExecution,
    get: bool,
) -> Value {
    let mut map = Map::new();
    map.insert("WindowExecutionId".to_owned(), json!(execution_id));
    map.insert("TaskExecutionId".to_owned(), json!(task.id));
    status_fields(
        &mut map,
        task.status,
        task.status_details.as_ref(),
        task.started_at,
        task.ended_at,
    );
    map.insert("TaskArn".to_owned(), json!("AWS-RunPatchBaseline"));
    if get {
        map.insert("Type".to_owned(), json!("RUN_COMMAND"));
        map.insert("Priority".to_owned(), json!(task.priority));
        map.insert(
            "MaxConcurrency".to_owned(),
            json!(task.concurrency.to_string()),
        );
        map.insert(
            "MaxErrors".to_owned(),
            json!(task.error_threshold.to_string()),
        );
        map.insert(
            "TaskParameters".to_owned(),
            json!([{"Operation": {"Values": [task.operation.as_str()]}}]),
        );
    } else {
        map.insert("TaskType".to_owned(), json!("RUN_COMMAND"));
    }
    Value::Object(map)
}

fn execution_id(input: &Input, member: &str) -> Result<String, SsmError> {
    uuid_member(input, member)
}

async fn executions(
    state: &AppState,
    principal: &Principal,
    operation: &str,
    input: &Input,
) -> Result<Value, SsmError> {
    use crate::service::executions as exec;
    match operation {
        "DescribeMaintenanceWindowSchedule" => {
            let id = window_id(input)?;
            let max = input.max_results(1..=1000, 20)?;
            if input.has("Filters") || input.has("Targets") {
                return Err(SsmError::validation(
                    "DescribeMaintenanceWindowSchedule: Filters and Targets are not supported here; give WindowId",
                ));
            }
            let record = load(state, &id).await?;
            let spec: WindowSpec = stored_json("window", &record.spec_json)?;
            let window = service::scheduled_window(&spec, record.schedule_anchor_at)?;
            // At most the next 1000 openings, paged.
            let items: Vec<Value> = if record.enabled {
                window
                    .occurrences_after(state.now())
                    .take(1000)
                    .map(|o| {
                        json!({"WindowId": id, "Name": spec.name,
                            "ExecutionTime": o.start().timestamp().strftime("%Y-%m-%dT%H:%MZ").to_string()})
                    })
                    .collect()
            } else {
                Vec::new()
            };
            paged(&items, input, max, "ScheduledWindowExecutions")
        }
        "DescribeMaintenanceWindowExecutions" => {
            let id = window_id(input)?;
            let max = input.max_results(10..=100, 100)?;
            load(state, &id).await?;
            let mut before = None;
            let mut after = None;
            for (key, values) in filters(input, &["ExecutedBefore", "ExecutedAfter"])? {
                let at = values
                    .first()
                    .and_then(|v| v.parse::<jiff::Timestamp>().ok())
                    .ok_or_else(|| {
                        SsmError::validation(format!("filter {key} takes one ISO-8601 instant"))
                    })?;
                match key.as_str() {
                    "ExecutedBefore" => before = Some(at),
                    "ExecutedAfter" => after = Some(at),
                    other => {
                        return Err(SsmError::validation(format!(
                            "filter key {other} is not one of ExecutedBefore, ExecutedAfter"
                        )));
                    }
                }
            }
            let records = state.store().executions(Some(&id), 10_000).await?;
            let items: Vec<Value> = records
                .iter()
                .filter(|r| {
                    let start = r.started_at.unwrap_or(r.scheduled_at);
                    before.is_none_or(|b| start < b) && after.is_none_or(|a| start > a)
                })
                .map(|r| {
                    let mut map = Map::new();
                    map.insert("WindowId".to_owned(), json!(r.window_id));
                    map.insert("WindowExecutionId".to_owned(), json!(r.id));
                    status_fields(
                        &mut map,
                        pw_api::server::windows::ExecutionStatus::parse(&r.status),
                        r.status_details.as_ref(),
                        r.started_at,
                        r.ended_at,
                    );
                    Value::Object(map)
                })
                .collect();
            paged(&items, input, max, "WindowExecutions")
        }
        "GetMaintenanceWindowExecution" => {
            let id = execution_id(input, "WindowExecutionId")?;
            let execution = exec::load(state, &id).await?;
            let mut map = Map::new();
            map.insert("WindowExecutionId".to_owned(), json!(execution.id));
            map.insert(
                "TaskIds".to_owned(),
                json!(
                    execution
                        .tasks
                        .iter()
                        .map(|t| t.id.clone())
                        .collect::<Vec<_>>()
                ),
            );
            status_fields(
                &mut map,
                execution.status,
                execution.status_details.as_ref(),
                execution.started_at,
                execution.ended_at,
            );
            Ok(Value::Object(map))
        }
        "DescribeMaintenanceWindowExecutionTasks" => {
            let id = execution_id(input, "WindowExecutionId")?;
            let max = input.max_results(10..=100, 100)?;
            let status_filters = filters(input, &["Status"])?;
            let execution = exec::load(state, &id).await?;
            let items: Vec<Value> = execution
                .tasks
                .iter()
                .map(|t| task_execution_to_ssm(&execution.id, t, false))
                .collect();
            let items = by_status(items, &status_filters);
            paged(&items, input, max, "WindowExecutionTaskIdentities")
        }
        "GetMaintenanceWindowExecutionTask" => {
            let id = execution_id(input, "WindowExecutionId")?;
            let task_id = uuid_member(input, "TaskId")?;
            let execution = exec::load(state, &id).await?;
            let task = execution
                .tasks
                .iter()
                .find(|t| t.id == task_id)
                .ok_or_else(|| {
                    SsmError::does_not_exist(format!("task execution {task_id} does not exist"))
                })?;
            Ok(task_execution_to_ssm(&execution.id, task, true))
        }
        "DescribeMaintenanceWindowExecutionTaskInvocations" => {
            let id = execution_id(input, "WindowExecutionId")?;
            let task_id = uuid_member(input, "TaskId")?;
            let max = input.max_results(10..=100, 100)?;
            let status_filters = filters(input, &["Status"])?;
            let execution = exec::load(state, &id).await?;
            let task = execution
                .tasks
                .iter()
                .find(|t| t.id == task_id)
                .ok_or_else(|| {
                    SsmError::does_not_exist(format!("task execution {task_id} does not exist"))
                })?;
            let items: Vec<Value> = task
                .invocations
                .iter()
                .map(|inv| {
                    let mut map = Map::new();
                    map.insert("WindowExecutionId".to_owned(), json!(execution.id));
                    map.insert("TaskExecutionId".to_owned(), json!(task.id));
                    map.insert("InvocationId".to_owned(), json!(inv.id));
                    insert_opt(&mut map, "ExecutionId", inv.command_id.clone().map(Value::from));
                    map.insert("TaskType".to_owned(), json!("RUN_COMMAND"));
                    map.insert(
                        "Parameters".to_owned(),
                        json!(json!({"InstanceIds": [inv.node_id], "Operation": [task.operation.as_str()]}).to_string()),
                    );
                    status_fields(
                        &mut map,
                        inv.status,
                        inv.status_details.as_ref(),
                        inv.started_at,
                        inv.ended_at,
                    );
                    insert_opt(&mut map, "OwnerInformation", inv.owner_information.clone().map(Value::from));
                    insert_opt(&mut map, "WindowTargetId", inv.window_target_id.clone().map(Value::from));
                    Value::Object(map)
                })
                .collect();
            let items = by_status(items, &status_filters);
            paged(
                &items,
                input,
                max,
                "WindowExecutionTaskInvocationIdentities",
            )
        }
        "CancelMaintenanceWindowExecution" => {
            let id = execution_id(input, "WindowExecutionId")?;
            exec::load(state, &id).await?;
            exec::cancel(state, &principal.actor(), &id).await?;
            Ok(json!({"WindowExecutionId": id}))
        }
        _ => Err(SsmError::new(
            "UnknownOperationException",
            format!("{operation} is not supported"),
        )),
    }
}
