//! Server wire types: additive compatibility (unknown values and fields), defaults, the one
//! status mapping, and the compact catalog's round trip to core values.

use pw_api::server::agent::{AgentCommand, CatalogJson, CommandKind};
use pw_api::server::error::{ErrorBody, ErrorCode};
use pw_api::server::windows::{
    CutoffBehavior, ExecutionStatus, RebootOption, TaskSpec, WindowSpec,
};
use pw_core::nevra::Nevra;
use pw_core::repo::{Advisory, AdvisoryPackage, Collection, Package, Reference};

#[test]
fn error_codes_map_to_one_status_each_and_unknown_codes_still_read() {
    for (code, status) in [
        (ErrorCode::BadRequest, 400),
        (ErrorCode::Unauthenticated, 401),
        (ErrorCode::Forbidden, 403),
        (ErrorCode::NotFound, 404),
        (ErrorCode::Conflict, 409),
        (ErrorCode::PayloadTooLarge, 413),
        (ErrorCode::TooManyRequests, 429),
        (ErrorCode::Internal, 500),
        (ErrorCode::Unavailable, 503),
    ] {
        assert_eq!(code.http_status(), status, "{code}");
        assert_eq!(ErrorCode::from_http_status(status), code);
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
    }
    let body: ErrorBody = serde_json::from_str(
        r#"{"code": "quota_exceeded", "message": "m", "request_id": "r", "new_field": 1}"#,
    )
    .unwrap();
    assert_eq!((body.code, body.field), (ErrorCode::Unknown, None));
}

#[test]
fn new_command_kinds_and_statuses_do_not_break_old_readers() {
    let command: AgentCommand = serde_json::from_str(
        r#"{"id": "c", "kind": "reboot", "created_at": "2025-01-01T00:00:00Z", "later": {"x": 1}}"#,
    )
    .unwrap();
    assert_eq!(
        (command.kind, command.delivery, command.patch),
        (CommandKind::Unknown, 0, None)
    );
    let status: ExecutionStatus = serde_json::from_str(r#""PAUSED""#).unwrap();
    assert_eq!(status, ExecutionStatus::Unknown);
    assert_eq!(
        ExecutionStatus::parse("SKIPPED_OVERLAPPING").as_str(),
        "SKIPPED_OVERLAPPING"
    );
}

#[test]
fn window_and_task_defaults() {
    let window: WindowSpec = serde_json::from_str(
        r#"{"name": "w-1", "schedule": "rate(1 day)", "duration_hours": 2, "cutoff_hours": 0}"#,
    )
    .unwrap();
    assert!(
        window.enabled && !window.allow_unassociated_targets && window.schedule_timezone.is_none()
    );
    let task: TaskSpec =
        serde_json::from_str(r#"{"operation": "Install", "targets": []}"#).unwrap();
    assert_eq!(
        (
            task.priority,
            task.max_concurrency.as_str(),
            task.max_errors.as_str(),
            task.cutoff_behavior,
            task.reboot_option
        ),
        (
            1,
            "1",
            "0",
            CutoffBehavior::ContinueTask,
            RebootOption::RebootIfNeeded
        )
    );
}

#[test]
fn catalog_subset_keeps_installed_names_and_round_trips() {
    let nevra = |text: &str| Nevra::parse(text).unwrap();
    let mut kept = Package::new(
        nevra("openssl-1:1.0.2k-24.amzn2.x86_64"),
        "Packages/o.rpm".to_owned(),
    );
    kept.build_time = Some(1_700_000_000);
    let dropped = Package::new(nevra("zsh-5.0-1.x86_64"), "Packages/z.rpm".to_owned());
    let listed = |text: &str| AdvisoryPackage {
        nevra: nevra(text),
        filename: None,
        reboot_suggested: true,
        source_rpm: None,
        collection: 0,
    };
    let advisory = Advisory {
        id: "ALAS2-1".to_owned(),
        kind: "security".to_owned(),
        status: None,
        severity: Some("Important".to_owned()),
        title: None,
        issued: Some("2024-12-01T00:00:00Z".parse().unwrap()),
        updated: None,
        references: vec![Reference {
            kind: "cve".to_owned(),
            id: "CVE-1".to_owned(),
            href: None,
            title: None,
        }],
        packages: vec![
            listed("openssl-1:1.0.2k-24.amzn2.x86_64"),
            listed("zsh-5.0-1.x86_64"),
        ],
        description: None,
        reboot_suggested: false,
        collections: vec![Collection::default()],
    };
    let unrelated = Advisory {
        id: "ALAS2-2".to_owned(),
        packages: vec![listed("zsh-5.0-1.x86_64")],
        ..advisory.clone()
    };
    let catalog = CatalogJson::subset(
        &[kept.clone(), dropped],
        &[advisory, unrelated],
        ["openssl"],
    );
    assert_eq!(catalog.packages.len(), 1);
    assert_eq!(catalog.advisories.len(), 1);
    assert_eq!(
        catalog.advisories[0].packages.len(),
        1,
        "the package list is cut to installed names"
    );
    let text = serde_json::to_string(&catalog).unwrap();
    let (packages, advisories) = serde_json::from_str::<CatalogJson>(&text)
        .unwrap()
        .to_core();
    assert_eq!(
        (packages[0].nevra.clone(), packages[0].build_time),
        (kept.nevra, kept.build_time)
    );
    assert_eq!(advisories[0].references[0].id, "CVE-1");
    assert!(advisories[0].suggests_reboot());
}
