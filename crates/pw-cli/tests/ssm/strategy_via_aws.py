"""The strategies configured with `aws ssm` commands alone (crates/pw-cli/tests/it/strategies.rs
runs this against its server). Each subcommand prints one JSON value:

  configure AT                  strategy 1: the baseline, its patch group, a window that opens
                                at AT (`at(...)`, UTC), its target and AWS-RunPatchBaseline task
  staged MODE                   strategies 2-4: AL2-STG and AL2-PRD baselines (MODE `days`,
                                `until` or `explicit`), their patch groups, a daily 02:00 window
                                per group with its target and Install task
  until STG PRD                 strategy 3's monthly edit: the two baselines' cut-off dates
  failed NODE                   the node's failed patches as rejected-list entries
  installed NODE PATTERN        the node's installed patches whose name is PATTERN, as entries
  reject NAME ENTRY...          sets the rejected patches of the baseline named NAME
  approve NAME ENTRY...         sets its approved patches
  states NODE                   `aws ssm describe-instance-patch-states` for the node
  effective BASELINE            its effective patches
  available PRODUCT [KEY=VALUE] the available patches of a product, optionally filtered

Environment: PW_SSM_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, and PW_CLIENT_TIME, the
time the client's clock shows (UTC, `YYYY-MM-DD hh:mm:ss`): the server under test runs on a
clock the test sets, and SigV4 requires the client's clock to agree with it, so the aws CLI
runs under faketime when it is given."""

import json
import os
import subprocess
import sys

AWS = os.path.join(os.path.dirname(sys.executable), "aws")
ENV = dict(os.environ, AWS_DEFAULT_REGION="eu-central-1", AWS_EC2_METADATA_DISABLED="true",
           AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
           TZ="UTC", DONT_FAKE_MONOTONIC="1")


def aws(*args):
    command = [AWS, "ssm", *args, "--endpoint-url", os.environ["PW_SSM_ENDPOINT"], "--output", "json"]
    if os.environ.get("PW_CLIENT_TIME"):
        command = ["faketime", os.environ["PW_CLIENT_TIME"], *command]
    out = subprocess.run(command, env=ENV, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"aws ssm {' '.join(args)}: exit {out.returncode}\n{out.stderr}")
    return json.loads(out.stdout or "{}")


def rule(filters, **approval):
    return {"PatchFilterGroup": {"PatchFilters": [{"Key": k, "Values": v} for k, v in filters]},
            **approval}


def security_and_bugfix(**approval):
    """Strategies 2 and 3: Security (Critical, Important) and Bugfix, approved by `approval`."""
    return {"PatchRules": [
        rule([("CLASSIFICATION", ["Security"]), ("SEVERITY", ["Critical", "Important"])], **approval),
        rule([("CLASSIFICATION", ["Bugfix"])], **approval)]}


def window_with_install(name, schedule, group, **window):
    """A window targeting `Patch Group=group` with an AWS-RunPatchBaseline Install task."""
    window_id = aws("create-maintenance-window", "--name", name, "--schedule", schedule,
                    "--duration", str(window.get("duration", 1)), "--cutoff", str(window.get("cutoff", 0)),
                    "--no-allow-unassociated-targets")["WindowId"]
    target = aws("register-target-with-maintenance-window", "--window-id", window_id,
                 "--resource-type", "INSTANCE", "--targets",
                 f"Key=tag:Patch Group,Values={group}")["WindowTargetId"]
    aws("register-task-with-maintenance-window", "--window-id", window_id, "--task-arn", "AWS-RunPatchBaseline",
        "--task-type", "RUN_COMMAND", "--targets", f"Key=WindowTargetIds,Values={target}",
        "--max-concurrency", "1", "--max-errors", window.get("max_errors", "0"), "--priority", "1",
        "--task-invocation-parameters", json.dumps({"RunCommand": {"Parameters": {
            "Operation": ["Install"], "RebootOption": [window.get("reboot", "RebootIfNeeded")]}}}))
    return window_id


def baseline_named(name):
    found = aws("describe-patch-baselines", "--filters", f"Key=NAME_PREFIX,Values={name}")
    return next(b["BaselineId"] for b in found["BaselineIdentities"] if b["BaselineName"] == name)


def configure(at):
    baseline = aws("create-patch-baseline", "--cli-input-json", json.dumps({
        "Name": "AL2-Default-Written-Out", "OperatingSystem": "AMAZON_LINUX_2",
        "ApprovalRules": security_and_bugfix(ApproveAfterDays=7)}))["BaselineId"]
    aws("register-patch-baseline-for-patch-group", "--baseline-id", baseline, "--patch-group", "AL2")
    window = window_with_install("AL2-once", f"at({at})", "AL2", duration=2, cutoff=1, reboot="NoReboot",
                                 max_errors="1")
    return {"baseline": baseline, "window": window}


def staged(mode):
    approvals = {
        "days": ({"ApprovalRules": security_and_bugfix(ApproveAfterDays=1)},
                 {"ApprovalRules": security_and_bugfix(ApproveAfterDays=31)}),
        "until": ({"ApprovalRules": security_and_bugfix(ApproveUntilDate="2025-03-01")},
                  {"ApprovalRules": security_and_bugfix(ApproveUntilDate="2025-02-01")}),
        # No rules: only what is listed installs; STG starts with one CVE.
        "explicit": ({"ApprovedPatches": ["CVE-2021-3156"]}, {}),
    }[mode]
    out = {}
    for env, approval in zip(["STG", "PRD"], approvals):
        group = f"AL2-{env}"
        baseline = aws("create-patch-baseline", "--cli-input-json", json.dumps({
            "Name": group, "OperatingSystem": "AMAZON_LINUX_2", **approval,
            "Tags": [{"Key": "Environment", "Value": env}]}))["BaselineId"]
        aws("register-patch-baseline-for-patch-group", "--baseline-id", baseline, "--patch-group", group)
        out[group] = {"baseline": baseline,
                      "window": window_with_install(f"{group}-daily", "cron(0 2 * * ? *)", group)}
    return out


def until(stg, prd):
    for name, date in [("AL2-STG", stg), ("AL2-PRD", prd)]:
        aws("update-patch-baseline", "--baseline-id", baseline_named(name), "--approval-rules",
            json.dumps(security_and_bugfix(ApproveUntilDate=date)))
    return {"AL2-STG": stg, "AL2-PRD": prd}


def entries(node, state, name=None):
    """Patches of the node in `state` as `name-version.arch` list entries (the version as
    DescribeInstancePatches gives it after the colon of the title)."""
    patches = aws("describe-instance-patches", "--instance-id", node,
                  "--filters", f"Key=State,Values={state}")["Patches"]
    out = []
    for patch in patches:
        name_arch, version = patch["Title"].split(":", 1)
        package, arch = name_arch.rsplit(".", 1)
        if name is None or package == name:
            out.append(f"{package}-{version}.{arch}")
    return sorted(out)


def set_list(member, name, *values):
    updated = aws("update-patch-baseline", "--baseline-id", baseline_named(name),
                  f"--{member}", *values)
    return updated["ApprovedPatches" if member == "approved-patches" else "RejectedPatches"]


def states(node):
    return aws("describe-instance-patch-states", "--instance-ids", node)["InstancePatchStates"]


def effective(baseline):
    return aws("describe-effective-patches-for-patch-baseline", "--baseline-id", baseline)["EffectivePatches"]


def available(product, *filters):
    args = ["describe-available-patches", "--filters", f"Key=PRODUCT,Values={product}"]
    for f in filters:
        key, value = f.split("=", 1)
        args.append(f"Key={key},Values={value}")
    return aws(*args)["Patches"]


if __name__ == "__main__":
    commands = {
        "configure": configure, "staged": staged, "until": until,
        "failed": lambda node: entries(node, "Failed"),
        "installed": lambda node, name: entries(node, "Installed", name),
        "reject": lambda name, *v: set_list("rejected-patches", name, *v),
        "approve": lambda name, *v: set_list("approved-patches", name, *v),
        "states": states, "effective": effective, "available": available,
    }
    print(json.dumps(commands[sys.argv[1]](*sys.argv[2:])))
