-- At most one running execution per window, whatever replica or trigger opens it (the
-- scheduler at an occurrence, or an operator's "run now"): the second insert fails and the
-- caller treats it as "already open". Finished and skipped executions are not constrained.
CREATE UNIQUE INDEX executions_one_active ON executions (window_id)
    WHERE status IN ('PENDING', 'IN_PROGRESS', 'CANCELLING');
