-- Background jobs run once per trigger across every service process (geo_service.db.jobs): a job's run for a
-- trigger (an escalation time slot, a data revision) is recorded here by the process that ran it, under an
-- advisory lock; the others see the record and skip. ``runs`` counts executions (1 unless a run was cut short
-- and redone).
CREATE TABLE job_runs (
    job          text NOT NULL,
    trigger      text NOT NULL,
    runs         integer NOT NULL DEFAULT 1,
    process      text NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    PRIMARY KEY (job, trigger)
);
CREATE INDEX job_runs_finished ON job_runs (job, finished_at);
