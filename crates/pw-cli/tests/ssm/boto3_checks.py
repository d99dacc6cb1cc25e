"""boto3 and the aws CLI against Patchwarden's SSM-compatible API (crates/pw-cli/tests/it/ssm.rs
runs this with a server it started). Environment: PW_SSM_ENDPOINT, PW_ADMIN_KEY, PW_ADMIN_SECRET,
PW_READONLY_KEY, PW_READONLY_SECRET. Prints `ok: NAME` per check; any failure raises."""

import datetime
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.exceptions import ClientError

ENDPOINT = os.environ["PW_SSM_ENDPOINT"]
REGION = "eu-central-1"


def client(key, secret):
    return boto3.client(
        "ssm",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


admin = client(os.environ["PW_ADMIN_KEY"], os.environ["PW_ADMIN_SECRET"])
readonly = client(os.environ["PW_READONLY_KEY"], os.environ["PW_READONLY_SECRET"])


def ok(name):
    print("ok:", name, flush=True)


def error_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{call.__name__} did not fail")


STG = dict(
    Name="AL2-STG",
    OperatingSystem="AMAZON_LINUX_2",
    Description="STG: approved 1 day after release",
    ApprovalRules={
        "PatchRules": [
            {
                "PatchFilterGroup": {
                    "PatchFilters": [
                        {"Key": "CLASSIFICATION", "Values": ["Security"]},
                        {"Key": "SEVERITY", "Values": ["Critical", "Important"]},
                    ]
                },
                "ApproveAfterDays": 1,
                "ComplianceLevel": "CRITICAL",
            },
            {
                "PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Bugfix"]}]},
                "ApproveAfterDays": 1,
            },
        ]
    },
    RejectedPatches=["kernel-4.14.2*"],
    Tags=[{"Key": "team", "Value": "platform"}],
)

# Baselines: create, read back every member Terraform reads, list with filters.
stg = admin.create_patch_baseline(**STG)["BaselineId"]
assert stg.startswith("pb-") and len(stg) == 20, stg
got = admin.get_patch_baseline(BaselineId=stg)
assert got["Name"] == "AL2-STG" and got["OperatingSystem"] == "AMAZON_LINUX_2", got
assert got["GlobalFilters"] == {"PatchFilters": []}, got["GlobalFilters"]
rules = got["ApprovalRules"]["PatchRules"]
assert len(rules) == 2 and rules[0]["ApproveAfterDays"] == 1, rules
assert rules[0]["ComplianceLevel"] == "CRITICAL", rules
assert got["RejectedPatches"] == ["kernel-4.14.2*"], got
assert isinstance(got["CreatedDate"], datetime.datetime), got["CreatedDate"]
assert got["PatchGroups"] == [] and got["Sources"] == [], got
ok("create and get a baseline")

tags = admin.list_tags_for_resource(ResourceType="PatchBaseline", ResourceId=stg)["TagList"]
assert tags == [{"Key": "team", "Value": "platform"}], tags
admin.add_tags_to_resource(ResourceType="PatchBaseline", ResourceId=stg, Tags=[{"Key": "env", "Value": "stg"}])
admin.remove_tags_from_resource(ResourceType="PatchBaseline", ResourceId=stg, TagKeys=["team"])
tags = admin.list_tags_for_resource(ResourceType="PatchBaseline", ResourceId=stg)["TagList"]
assert tags == [{"Key": "env", "Value": "stg"}], tags
ok("tags")

# A partial update keeps what it does not name; Replace resets it.
updated = admin.update_patch_baseline(BaselineId=stg, Description="STG, reviewed")
assert updated["Description"] == "STG, reviewed" and len(updated["ApprovalRules"]["PatchRules"]) == 2, updated
replaced = admin.update_patch_baseline(BaselineId=stg, Name="AL2-STG", Replace=True, RejectedPatches=[])
assert replaced["ApprovalRules"]["PatchRules"] == [] and replaced["RejectedPatches"] == [], replaced
admin.update_patch_baseline(BaselineId=stg, ApprovalRules=STG["ApprovalRules"])
ok("update with and without Replace")

aws_owned = admin.describe_patch_baselines(
    Filters=[{"Key": "OWNER", "Values": ["AWS"]}, {"Key": "OPERATING_SYSTEM", "Values": ["AMAZON_LINUX_2"]}]
)["BaselineIdentities"]
assert [b["BaselineName"] for b in aws_owned] == ["AWS-AmazonLinux2DefaultPatchBaseline"], aws_owned
default_arn = aws_owned[0]["BaselineId"]
assert default_arn.startswith(f"arn:aws:ssm:{REGION}:") and "/pb-" in default_arn, default_arn
assert aws_owned[0]["DefaultBaseline"] is True
builtin = admin.get_patch_baseline(BaselineId=default_arn)
assert builtin["Name"] == "AWS-AmazonLinux2DefaultPatchBaseline" and len(builtin["ApprovalRules"]["PatchRules"]) == 2
mine = admin.describe_patch_baselines(Filters=[{"Key": "OWNER", "Values": ["Self"]}, {"Key": "NAME_PREFIX", "Values": ["AL2-"]}])
assert [b["BaselineId"] for b in mine["BaselineIdentities"]] == [stg], mine
ok("describe with OWNER, OPERATING_SYSTEM and NAME_PREFIX; AWS-owned baselines")

# ClientToken: a retried create answers the first result; other parameters are refused.
first = admin.create_patch_baseline(Name="retried", OperatingSystem="UBUNTU", ClientToken="tok-1")["BaselineId"]
again = admin.create_patch_baseline(Name="retried", OperatingSystem="UBUNTU", ClientToken="tok-1")["BaselineId"]
assert first == again, (first, again)
assert error_code(admin.create_patch_baseline, Name="other", OperatingSystem="UBUNTU",
                  ClientToken="tok-1")[0] == "IdempotentParameterMismatch"
admin.delete_patch_baseline(BaselineId=first)
ok("ClientToken makes a create idempotent")

# Pagination: every page walked, a token only while more follow.
for n in range(3):
    admin.create_patch_baseline(Name=f"extra-{n}", OperatingSystem="UBUNTU")
pages = list(admin.get_paginator("describe_patch_baselines").paginate(
    Filters=[{"Key": "OWNER", "Values": ["Self"]}], PaginationConfig={"PageSize": 1}))
assert len(pages) == 4 and all(len(p["BaselineIdentities"]) == 1 for p in pages), pages
assert "NextToken" not in pages[-1]
ok("paginator walks every page")

# Defaults and patch groups.
assert admin.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2")["BaselineId"] == default_arn
admin.register_default_patch_baseline(BaselineId=stg)
assert admin.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2")["BaselineId"] == stg
admin.register_default_patch_baseline(BaselineId=default_arn)
admin.register_patch_baseline_for_patch_group(BaselineId=stg, PatchGroup="AL2-STG")
group = admin.get_patch_baseline_for_patch_group(PatchGroup="AL2-STG", OperatingSystem="AMAZON_LINUX_2")
assert group["BaselineId"] == stg, group
other = admin.get_patch_baseline_for_patch_group(PatchGroup="nobody", OperatingSystem="AMAZON_LINUX_2")
assert other["BaselineId"] == default_arn, other
mappings = [m for p in admin.get_paginator("describe_patch_groups").paginate() for m in p["Mappings"]]
assert [(m["PatchGroup"], m["BaselineIdentity"]["BaselineId"]) for m in mappings] == [("AL2-STG", stg)], mappings
assert admin.get_patch_baseline(BaselineId=stg)["PatchGroups"] == ["AL2-STG"]
ok("default baseline and patch groups")

# Errors as the SDKs expect them.
try:
    admin.get_patch_baseline(BaselineId="pb-0123456789abcdef0")
    raise AssertionError("no error")
except admin.exceptions.DoesNotExistException as error:
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
try:
    admin.create_patch_baseline(Name="AL2-STG", OperatingSystem="AMAZON_LINUX_2")
    raise AssertionError("no error")
except admin.exceptions.AlreadyExistsException:
    pass
try:
    admin.register_patch_baseline_for_patch_group(BaselineId=stg, PatchGroup="AL2-STG")
    raise AssertionError("no error")
except admin.exceptions.AlreadyExistsException:
    pass
try:
    admin.delete_patch_baseline(BaselineId=stg)
    raise AssertionError("no error")
except admin.exceptions.ResourceInUseException:
    pass
assert error_code(admin.get_patch_baseline, BaselineId="not-a-baseline-id-at-all") == ("ValidationException", 400)
assert error_code(
    admin.create_patch_baseline, Name="bad", OperatingSystem="AMAZON_LINUX_2",
    ApprovalRules={"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]}, "ApproveAfterDays": 999}]},
)[0] == "ValidationException"
assert error_code(admin.create_patch_baseline, Name="win", OperatingSystem="WINDOWS")[0] == "ValidationException"
ok("DoesNotExist, AlreadyExists, ResourceInUse and Validation errors")

admin.deregister_patch_baseline_for_patch_group(BaselineId=stg, PatchGroup="AL2-STG")
assert admin.delete_patch_baseline(BaselineId=stg)["BaselineId"] == stg
ok("deregister and delete")

# Maintenance windows, targets and tasks (what the Terraform resources call).
window = admin.create_maintenance_window(
    Name="STG-daily", Schedule="cron(0 2 ? * * *)", ScheduleTimezone="Europe/Berlin",
    Duration=2, Cutoff=1, AllowUnassociatedTargets=False, Tags=[{"Key": "env", "Value": "stg"}],
)["WindowId"]
assert window.startswith("mw-") and len(window) == 20, window
got = admin.get_maintenance_window(WindowId=window)
assert (got["Name"], got["Duration"], got["Cutoff"], got["Enabled"]) == ("STG-daily", 2, 1, True), got
assert got["AllowUnassociatedTargets"] is False and isinstance(got["CreatedDate"], datetime.datetime), got
assert got["NextExecutionTime"].endswith("+01:00") or got["NextExecutionTime"].endswith("+02:00"), got
admin.update_maintenance_window(WindowId=window, Enabled=False)
assert admin.get_maintenance_window(WindowId=window)["Enabled"] is False
updated = admin.update_maintenance_window(
    WindowId=window, Name="STG-daily", Schedule="cron(0 3 ? * * *)", Duration=3, Cutoff=1,
    AllowUnassociatedTargets=False, Enabled=True, Replace=True)
assert updated["Schedule"] == "cron(0 3 ? * * *)" and "ScheduleTimezone" not in updated, updated
listed = admin.describe_maintenance_windows(Filters=[{"Key": "Name", "Values": ["STG-daily"]}])["WindowIdentities"]
assert [w["WindowId"] for w in listed] == [window], listed
target = admin.register_target_with_maintenance_window(
    WindowId=window, ResourceType="INSTANCE", Targets=[{"Key": "tag:Patch Group", "Values": ["STG"]}],
    Name="stg-nodes", OwnerInformation="platform")["WindowTargetId"]
found = admin.describe_maintenance_window_targets(
    WindowId=window, Filters=[{"Key": "WindowTargetId", "Values": [target]}])["Targets"]
assert len(found) == 1 and found[0]["Targets"] == [{"Key": "tag:Patch Group", "Values": ["STG"]}], found
admin.update_maintenance_window_target(WindowId=window, WindowTargetId=target, OwnerInformation="ops")
found = admin.describe_maintenance_window_targets(WindowId=window)["Targets"]
assert found[0]["OwnerInformation"] == "ops" and found[0]["Name"] == "stg-nodes", found
task = admin.register_task_with_maintenance_window(
    WindowId=window, Targets=[{"Key": "WindowTargetIds", "Values": [target]}],
    TaskArn="AWS-RunPatchBaseline", TaskType="RUN_COMMAND", Priority=1,
    MaxConcurrency="50%", MaxErrors="0",
    TaskInvocationParameters={"RunCommand": {"Parameters": {
        "Operation": ["Install"], "RebootOption": ["NoReboot"]}}},
)["WindowTaskId"]
got = admin.get_maintenance_window_task(WindowId=window, WindowTaskId=task)
params = got["TaskInvocationParameters"]["RunCommand"]["Parameters"]
assert params["Operation"] == ["Install"] and params["RebootOption"] == ["NoReboot"], got
assert (got["TaskType"], got["MaxConcurrency"], got["MaxErrors"]) == ("RUN_COMMAND", "50%", "0"), got
admin.update_maintenance_window_task(
    WindowId=window, WindowTaskId=task, Replace=True, TaskArn="AWS-RunPatchBaseline",
    Targets=[{"Key": "WindowTargetIds", "Values": [target]}],
    Priority=2, MaxConcurrency="1", MaxErrors="1",
    TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": ["Scan"]}}})
tasks = admin.describe_maintenance_window_tasks(WindowId=window)["Tasks"]
assert len(tasks) == 1 and tasks[0]["Type"] == "RUN_COMMAND" and tasks[0]["Priority"] == 2, tasks
assert tasks[0]["TaskParameters"]["Operation"] == {"Values": ["Scan"]}, tasks
assert error_code(
    admin.register_task_with_maintenance_window, WindowId=window, TaskArn="arn:aws:lambda:x:1:function:f",
    TaskType="LAMBDA", Targets=[{"Key": "WindowTargetIds", "Values": [target]}],
)[0] == "ValidationException"
assert error_code(admin.get_maintenance_window, WindowId="mw-0123456789abcdef0")[0] == "DoesNotExistException"
assert error_code(
    admin.deregister_target_from_maintenance_window, WindowId=window, WindowTargetId=target, Safe=True
)[0] == "TargetInUseException"
tags = admin.list_tags_for_resource(ResourceType="MaintenanceWindow", ResourceId=window)["TagList"]
assert tags == [{"Key": "env", "Value": "stg"}], tags
admin.deregister_task_from_maintenance_window(WindowId=window, WindowTaskId=task)
admin.deregister_target_from_maintenance_window(WindowId=window, WindowTargetId=target)
assert admin.delete_maintenance_window(WindowId=window)["WindowId"] == window
assert [w["WindowId"] for w in admin.describe_maintenance_windows()["WindowIdentities"]] == [os.environ["PW_WINDOW_ID"]]
ok("maintenance windows, targets and tasks")

# Members Patchwarden keeps and answers back without using them (docs/ssm-api.md), and the
# model's constraints on them.
kept = admin.create_patch_baseline(
    Name="kept-members", OperatingSystem="AMAZON_LINUX_2",
    Sources=[{"Name": "my-repo", "Products": ["AmazonLinux2"], "Configuration": "[my-repo]\nbaseurl=https://repo.example/"}],
    AvailableSecurityUpdatesComplianceStatus="NON_COMPLIANT",
)["BaselineId"]
got = admin.get_patch_baseline(BaselineId=kept)
assert got["Sources"][0]["Name"] == "my-repo", got
assert got["AvailableSecurityUpdatesComplianceStatus"] == "NON_COMPLIANT", got
updated = admin.update_patch_baseline(BaselineId=kept, Description="sources survive")
assert updated["Sources"][0]["Name"] == "my-repo", updated
assert admin.update_patch_baseline(BaselineId=kept, Sources=[])["Sources"] == []
replaced = admin.update_patch_baseline(BaselineId=kept, Name="kept-members", Replace=True)
assert "AvailableSecurityUpdatesComplianceStatus" not in replaced, replaced
assert error_code(admin.update_patch_baseline, BaselineId=kept,
                  Sources=[{"Name": "bad name!", "Products": ["x"], "Configuration": "y"}])[0] == "ValidationException"
assert error_code(admin.update_patch_baseline, BaselineId=kept,
                  AvailableSecurityUpdatesComplianceStatus="MAYBE")[0] == "ValidationException"
assert error_code(admin.create_patch_baseline, Name="dup-tags", OperatingSystem="AMAZON_LINUX_2",
                  Tags=[{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}])[0] == "ValidationException"
admin.delete_patch_baseline(BaselineId=kept)

w = admin.create_maintenance_window(Name="kept", Schedule="rate(1 day)", Duration=2, Cutoff=1,
                                    AllowUnassociatedTargets=False)["WindowId"]
t = admin.register_target_with_maintenance_window(
    WindowId=w, ResourceType="INSTANCE", Targets=[{"Key": "tag:Patch Group", "Values": ["AL2-STG"]}])["WindowTargetId"]
arn = f"arn:aws:ssm:{REGION}::document/AWS-RunPatchBaseline"
k = admin.register_task_with_maintenance_window(
    WindowId=w, Targets=[{"Key": "WindowTargetIds", "Values": [t]}], TaskArn=arn, TaskType="RUN_COMMAND",
    Name="scan-nightly", Description="nightly scan", MaxConcurrency="1", MaxErrors="0",
    ServiceRoleArn="arn:aws:iam::000000000000:role/patching",
    LoggingInfo={"S3BucketName": "logs-bucket", "S3Region": "eu-central-1"},
    TaskInvocationParameters={"RunCommand": {
        "Parameters": {"Operation": ["Scan"]}, "TimeoutSeconds": 600, "Comment": "scan",
        "DocumentVersion": "$DEFAULT", "CloudWatchOutputConfig": {"CloudWatchOutputEnabled": False}}},
)["WindowTaskId"]
got = admin.get_maintenance_window_task(WindowId=w, WindowTaskId=k)
run = got["TaskInvocationParameters"]["RunCommand"]
assert got["TaskArn"] == arn and got["Description"] == "nightly scan", got
assert got["ServiceRoleArn"].endswith("role/patching") and got["LoggingInfo"]["S3BucketName"] == "logs-bucket", got
assert run["TimeoutSeconds"] == 600 and run["Comment"] == "scan" and run["DocumentVersion"] == "$DEFAULT", run
assert run["CloudWatchOutputConfig"] == {"CloudWatchOutputEnabled": False}, run
described = admin.describe_maintenance_window_tasks(WindowId=w)["Tasks"][0]
assert described["Description"] == "nightly scan" and described["TaskArn"] == arn, described
# An update without Replace keeps what it does not name; with Replace, only what it names.
admin.update_maintenance_window_task(WindowId=w, WindowTaskId=k, Priority=2)
got = admin.get_maintenance_window_task(WindowId=w, WindowTaskId=k)
assert got["ServiceRoleArn"].endswith("role/patching") and got["Description"] == "nightly scan", got
got = admin.update_maintenance_window_task(
    WindowId=w, WindowTaskId=k, Replace=True, TaskArn="AWS-RunPatchBaseline",
    Targets=[{"Key": "WindowTargetIds", "Values": [t]}], MaxConcurrency="1", MaxErrors="0",
    TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": ["Install"]}}})
assert "ServiceRoleArn" not in got and "Description" not in got, got
assert got["TaskInvocationParameters"]["RunCommand"] == {"Parameters": {"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]}}, got
for bad in [
    dict(TaskInvocationParameters={"Automation": {"DocumentVersion": "1"}}),
    dict(TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": ["Scan", "Install"]}}}),
    dict(TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": ["Scan"]}, "DocumentHashType": "Md5"}}),
    dict(LoggingInfo={"S3BucketName": "b" * 64, "S3Region": "eu-central-1"}),
    dict(Name="not a valid name"),
]:
    assert error_code(admin.update_maintenance_window_task, WindowId=w, WindowTaskId=k, **bad)[0] == "ValidationException", bad
assert error_code(admin.describe_maintenance_windows, Filters=[{"Key": "Color", "Values": ["blue"]}])[0] == "ValidationException"
assert error_code(admin.describe_maintenance_window_targets, WindowId=w,
                  Filters=[{"Key": "Name", "Values": ["x"]}])[0] == "ValidationException"
assert error_code(admin.list_compliance_items, ResourceIds=["mi-0"], ResourceTypes=["ManagedInstance"],
                  Filters=[{"Key": "Color", "Values": ["blue"]}])[0] == "InvalidFilter"
admin.deregister_task_from_maintenance_window(WindowId=w, WindowTaskId=k)
admin.deregister_target_from_maintenance_window(WindowId=w, WindowTargetId=t)
admin.delete_maintenance_window(WindowId=w)
ok("kept members answered back; their constraints, filter keys and task parameters checked")

# Nodes and their patch states: what the native API reports (one node, group AL2-STG, its
# latest Install report: curl Missing, openssl Installed).
node = os.environ["PW_NODE_ID"]
info = admin.describe_instance_information(Filters=[{"Key": "tag:Patch Group", "Values": ["AL2-STG"]}])
assert [i["InstanceId"] for i in info["InstanceInformationList"]] == [node], info
assert info["InstanceInformationList"][0]["PlatformType"] == "Linux"
states = admin.describe_instance_patch_states(InstanceIds=[node])["InstancePatchStates"]
assert len(states) == 1, states
s0 = states[0]
assert (s0["MissingCount"], s0["InstalledCount"], s0["CriticalNonCompliantCount"]) == (1, 1, 1), s0
assert s0["Operation"] == "Install" and s0["PatchGroup"] == "AL2-STG", s0
assert s0["BaselineId"].startswith("arn:aws:ssm:") and isinstance(s0["OperationEndTime"], datetime.datetime), s0
by_group = admin.describe_instance_patch_states_for_patch_group(
    PatchGroup="AL2-STG", Filters=[{"Key": "MissingCount", "Type": "GreaterThan", "Values": ["0"]}])
assert [s["InstanceId"] for s in by_group["InstancePatchStates"]] == [node], by_group
none = admin.describe_instance_patch_states_for_patch_group(
    PatchGroup="AL2-STG", Filters=[{"Key": "FailedCount", "Type": "GreaterThan", "Values": ["0"]}])
assert none["InstancePatchStates"] == [], none
patches = admin.describe_instance_patches(InstanceId=node, Filters=[{"Key": "State", "Values": ["Missing"]}])["Patches"]
assert [(p["KBId"], p["State"], p["Severity"]) for p in patches] == [("curl.x86_64", "MISSING", "Critical")], patches
group_state = admin.describe_patch_group_state(PatchGroup="AL2-STG")
assert (group_state["Instances"], group_state["InstancesWithMissingPatches"],
        group_state["InstancesWithFailedPatches"]) == (1, 1, 0), group_state
ok("instance information, patch states, patches and patch group state")

# A window the native API made and ran: seen, and cancelled, through this API.
native_window, execution = os.environ["PW_WINDOW_ID"], os.environ["PW_EXECUTION_ID"]
schedule = admin.describe_maintenance_window_schedule(WindowId=native_window, MaxResults=3)
times = [s["ExecutionTime"] for s in schedule["ScheduledWindowExecutions"]]
assert len(times) == 3 and all(t.endswith("T02:00Z") for t in times), times
runs = admin.describe_maintenance_window_executions(WindowId=native_window)["WindowExecutions"]
assert [r["WindowExecutionId"] for r in runs] == [execution] and runs[0]["Status"] == "IN_PROGRESS", runs
got = admin.get_maintenance_window_execution(WindowExecutionId=execution)
assert got["Status"] == "IN_PROGRESS" and len(got["TaskIds"]) == 1, got
task_runs = admin.describe_maintenance_window_execution_tasks(WindowExecutionId=execution)
task_run = task_runs["WindowExecutionTaskIdentities"][0]
assert task_run["TaskArn"] == "AWS-RunPatchBaseline" and task_run["TaskType"] == "RUN_COMMAND", task_run
invocations = admin.describe_maintenance_window_execution_task_invocations(
    WindowExecutionId=execution, TaskId=got["TaskIds"][0])["WindowExecutionTaskInvocationIdentities"]
assert len(invocations) == 1 and json.loads(invocations[0]["Parameters"])["InstanceIds"] == [node], invocations
detail = admin.get_maintenance_window_execution_task(WindowExecutionId=execution, TaskId=got["TaskIds"][0])
assert detail["TaskExecutionId"] == got["TaskIds"][0] and detail["Type"] == "RUN_COMMAND", detail
admin.cancel_maintenance_window_execution(WindowExecutionId=execution)
status = admin.get_maintenance_window_execution(WindowExecutionId=execution)["Status"]
assert status in ("CANCELLING", "CANCELLED"), status
assert error_code(admin.get_maintenance_window_execution,
                  WindowExecutionId="00000000-0000-4000-8000-000000000000")[0] == "DoesNotExistException"
ok("executions: schedule, listing, tasks, invocations, cancel")

# Compliance listings and properties; a node's tags (its patch group) through this API.
items = admin.list_compliance_items(ResourceIds=[node], ResourceTypes=["ManagedInstance"],
                                    Filters=[{"Key": "Status", "Values": ["NON_COMPLIANT"], "Type": "EQUAL"}])
assert [(i["Id"], i["Severity"], i["ComplianceType"]) for i in items["ComplianceItems"]] == [
    ("curl.x86_64", "CRITICAL", "Patch")], items
summaries = admin.list_resource_compliance_summaries()["ResourceComplianceSummaryItems"]
assert [(s["ResourceId"], s["Status"], s["OverallSeverity"]) for s in summaries] == [
    (node, "NON_COMPLIANT", "CRITICAL")], summaries
assert summaries[0]["NonCompliantSummary"]["NonCompliantCount"] == 1
overall = admin.list_compliance_summaries()["ComplianceSummaryItems"]
assert overall[0]["NonCompliantSummary"]["SeveritySummary"]["CriticalCount"] == 1, overall
props = admin.describe_patch_properties(OperatingSystem="AMAZON_LINUX_2023", Property="CLASSIFICATION")
assert {"Name": "Security"} in props["Properties"], props
node_tags = admin.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId=node)["TagList"]
assert node_tags == [{"Key": "Patch Group", "Value": "AL2-STG"}], node_tags
admin.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=node, Tags=[{"Key": "Patch Group", "Value": "AL2-PRD"}])
info = admin.describe_instance_information(Filters=[{"Key": "tag:Patch Group", "Values": ["AL2-PRD"]}])
assert [i["InstanceId"] for i in info["InstanceInformationList"]] == [node], info
admin.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=node, Tags=[{"Key": "Patch Group", "Value": "AL2-STG"}])
ok("compliance listings, patch properties, node tags")

# Roles: a read-only key reads and is refused writes.
readonly.describe_patch_baselines()
assert error_code(readonly.create_patch_baseline, Name="read-only-try", OperatingSystem="UBUNTU")[0] == "AccessDeniedException"
ok("read-only key refused on writes")

# SigV4 failures.
wrong = client(os.environ["PW_ADMIN_KEY"], "not-the-secret-000000000000000000000000")
assert error_code(wrong.describe_patch_baselines)[0] == "InvalidSignatureException"
unknown = client("PWAK0000000000000000", "whatever")
assert error_code(unknown.describe_patch_baselines)[0] == "UnrecognizedClientException"


def raw(service, when, target="AmazonSSM.DescribePatchBaselines", body=b"{}", sent=None):
    creds = botocore.credentials.Credentials(os.environ["PW_ADMIN_KEY"], os.environ["PW_ADMIN_SECRET"])
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=ENDPOINT, data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Content-Sha256": __import__("hashlib").sha256(body).hexdigest()},
    )
    signer = botocore.auth.SigV4Auth(creds, service, REGION)
    real = botocore.auth.datetime.datetime

    class Frozen(real):
        @classmethod
        def utcnow(cls):
            return when

        @classmethod
        def now(cls, tz=None):
            return when.replace(tzinfo=tz) if tz else when

    botocore.auth.datetime.datetime = Frozen
    try:
        signer.add_auth(request)
    finally:
        botocore.auth.datetime.datetime = real
    prepared = request.prepare()
    sent = body if sent is None else sent
    headers = dict(prepared.headers)
    headers["Content-Length"] = str(len(sent))
    http = urllib.request.Request(prepared.url, data=sent, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(http) as response:
            return response.status, response.headers, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"{}")


now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
status, headers, body = raw("ssm", now)
assert status == 200 and headers["x-amzn-RequestId"], (status, body)
status, headers, body = raw("ssm", now - datetime.timedelta(minutes=20))
assert (status, body["__type"]) == (400, "InvalidSignatureException"), body
assert "Signature expired" in body["Message"] and headers["X-Amzn-ErrorType"] == "InvalidSignatureException"
status, _, body = raw("ec2", now)
assert (status, body["__type"]) == (400, "InvalidSignatureException"), body
status, _, body = raw("ssm", now, body=b"{}", sent=b'{"MaxResults": 1}')
assert (status, body["__type"]) == (400, "InvalidSignatureException"), body
status, _, body = raw("ssm", now, target="AmazonSSM.NoSuchOperation")
assert (status, body["__type"]) == (400, "UnknownOperationException"), body
status, _, body = raw("ssm", now, target="AmazonSSM.GetPatchBaseline", body=b"{not json")
assert (status, body["__type"]) == (400, "SerializationException"), body
status, _, body = raw("ssm", now, target="AmazonSSM.UpdatePatchBaseline",
                      body=json.dumps({"BaselineId": "pb-0123456789abcdef0", "Replace": "yes"}).encode())
assert (status, body["__type"]) == (400, "SerializationException"), body
ok("SigV4: wrong secret, unknown key, stale date, wrong service, a body that is not the signed one; unknown operation; bad JSON")

# The aws CLI, unchanged.
env = dict(os.environ, AWS_ACCESS_KEY_ID=os.environ["PW_ADMIN_KEY"],
           AWS_SECRET_ACCESS_KEY=os.environ["PW_ADMIN_SECRET"], AWS_DEFAULT_REGION=REGION,
           AWS_EC2_METADATA_DISABLED="true")
aws = os.path.join(os.path.dirname(sys.executable), "aws")
out = subprocess.run(
    [aws, "ssm", "describe-patch-baselines", "--endpoint-url", ENDPOINT,
     "--filters", "Key=OWNER,Values=AWS", "--output", "json"],
    env=env, check=True, capture_output=True, text=True,
).stdout
names = [b["BaselineName"] for b in json.loads(out)["BaselineIdentities"]]
assert "AWS-AmazonLinux2023DefaultPatchBaseline" in names, names
failed = subprocess.run(
    [aws, "ssm", "get-patch-baseline", "--endpoint-url", ENDPOINT, "--baseline-id", "pb-0123456789abcdef0"],
    env=env, capture_output=True, text=True,
)
assert failed.returncode == 255 and "DoesNotExistException" in failed.stderr, failed.stderr
ok("aws ssm CLI")
print("all SSM checks passed")
