"""An Apache Airflow DAG that runs a nightly synthgate release batch and acts on its exit codes.

Airflow is not a dependency of synthgate: this file is an example (a test compiles it and checks that
every `synthgate` command in it is a real command and option). BashOperator fails a task on a
non-zero exit code, except the codes listed in `skip_on_exit_code`, which mark it skipped.

Exit codes (docs/cli.md): 0 released / fits, 1 internal error, 2 bad config or input (or a batch id
already spent), 3 held by the gate, 4 budget exhausted, 5 mixed outcomes in a batch.
"""

from __future__ import annotations

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator

ENV = {"SYNTHGATE_LEDGER": "/srv/synthgate/ledger.sqlite", "PATH": "/srv/synthgate/.venv/bin:/usr/bin:/bin"}

with DAG(
    dag_id="synthgate_nightly",
    schedule="15 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["privacy", "synthetic-data"],
) as dag:
    # Exit 4 (the lifetime budget cannot take the run) skips the release instead of failing the DAG:
    # the budget is a policy limit, not an error. Nothing is read or spent by `plan`.
    plan = BashOperator(
        task_id="plan",
        bash_command="synthgate plan /srv/synthgate/configs/health_insurance.yaml --json",
        env=ENV,
        skip_on_exit_code=[4],
    )

    # The batch id comes from the logical date: if Airflow re-fires this task for the same date, the
    # ledger refuses the id (exit 2) and nothing is spent twice, so there are no automatic retries.
    # Exit 3 (every config held by the gate) is skipped, not failed: the gate did its job.
    # Exit 5 (mixed) fails the task so that a person reads the JSON's per-config outcomes.
    release = BashOperator(
        task_id="release",
        bash_command=(
            "synthgate --log-format json run /srv/synthgate/configs/*.yaml --out /srv/synthgate/runs/{{ ds }}"
            " --batch-id nightly-{{ ds }} --json > /srv/synthgate/runs/{{ ds }}.json"
        ),
        env=ENV,
        retries=0,
        skip_on_exit_code=[3],
    )

    ledger = BashOperator(
        task_id="ledger_snapshot",
        bash_command="synthgate budget show --json > /srv/synthgate/ledger/{{ ds }}.json",
        env=ENV,
        trigger_rule="all_done",
    )

    plan >> release >> ledger
