-- Members of the SSM API that Patchwarden keeps as given and answers back without using
-- them (a baseline's Sources, a task's ServiceRoleArn, LoggingInfo, AlarmConfiguration, the
-- Run Command members beside its parameters): one JSON object per resource.
CREATE TABLE resource_members (
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    members_json TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_id)
);
