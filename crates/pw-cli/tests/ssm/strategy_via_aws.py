"""Strategy 1 configured with `aws ssm` commands alone (crates/pw-cli/tests/it/strategies.rs runs
this against its server). `configure AT` creates the baseline, the patch group, a window that
opens at AT (`at(...)`, UTC), its target and its AWS-RunPatchBaseline Install task; `states NODE`
prints `aws ssm describe-instance-patch-states` for the node. Environment: PW_SSM_ENDPOINT,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY."""

import json
import os
import subprocess
import sys

AWS = os.path.join(os.path.dirname(sys.executable), "aws")
ENV = dict(os.environ, AWS_DEFAULT_REGION="eu-central-1", AWS_EC2_METADATA_DISABLED="true",
           AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")


def aws(*args):
    out = subprocess.run([AWS, "ssm", *args, "--endpoint-url", os.environ["PW_SSM_ENDPOINT"],
                          "--output", "json"], env=ENV, check=True, capture_output=True, text=True)
    return json.loads(out.stdout or "{}")


def configure(at):
    baseline = aws("create-patch-baseline", "--cli-input-json", json.dumps({
        "Name": "AL2-Default-Written-Out", "OperatingSystem": "AMAZON_LINUX_2",
        "ApprovalRules": {"PatchRules": [
            {"PatchFilterGroup": {"PatchFilters": [
                {"Key": "CLASSIFICATION", "Values": ["Security"]},
                {"Key": "SEVERITY", "Values": ["Critical", "Important"]}]},
             "ApproveAfterDays": 7},
            {"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Bugfix"]}]},
             "ApproveAfterDays": 7}]}}))["BaselineId"]
    aws("register-patch-baseline-for-patch-group", "--baseline-id", baseline, "--patch-group", "AL2")
    window = aws("create-maintenance-window", "--name", "AL2-once", "--schedule", f"at({at})",
                 "--duration", "2", "--cutoff", "1", "--no-allow-unassociated-targets")["WindowId"]
    target = aws("register-target-with-maintenance-window", "--window-id", window,
                 "--resource-type", "INSTANCE", "--targets", "Key=tag:Patch Group,Values=AL2")["WindowTargetId"]
    aws("register-task-with-maintenance-window", "--window-id", window, "--task-arn", "AWS-RunPatchBaseline",
        "--task-type", "RUN_COMMAND", "--targets", f"Key=WindowTargetIds,Values={target}",
        "--max-concurrency", "1", "--max-errors", "1", "--priority", "1",
        "--task-invocation-parameters",
        json.dumps({"RunCommand": {"Parameters": {"Operation": ["Install"], "RebootOption": ["NoReboot"]}}}))
    print(json.dumps({"baseline": baseline, "window": window}))


def states(node):
    print(json.dumps(aws("describe-instance-patch-states", "--instance-ids", node)["InstancePatchStates"]))


def effective(baseline):
    print(json.dumps(aws("describe-effective-patches-for-patch-baseline", "--baseline-id", baseline)["EffectivePatches"]))


if __name__ == "__main__":
    {"configure": configure, "states": states, "effective": effective}[sys.argv[1]](sys.argv[2])
