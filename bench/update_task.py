#!/usr/bin/env python3
"""The update task of the bench scenarios: what one schema's `runUpdate` costs an application.

update_task.py --db HOST:PORT:USER:PASSWORD:DB --seconds T SCHEMA

1. locks the schema for the application: app_schemas.state = 'updating' (the emulated
   application nodes, tests/backend/backend.py --app-db, answer its tenants with APP-0001);
2. does real work on the schema's data: ALTER TABLE `SCHEMA`.data ADD COLUMN v8 (a table copy
   proportional to topology.schema_rows), if the table exists;
3. waits until T seconds have passed since it started (the scenario's task_time);
4. restores the state it found, then waits 0.3 s: the emulated application nodes read
   app_schemas every 100 ms, so the task ends only when every node can have seen the unlock
   (an update tool that returns before the application knows would make the first requests
   after enable fail, with or without Switchyard).
Switchyard runs it as its `admin.update_tasks.command` (after disable and drain, so no request
of the schema is in flight); the HAProxy peer runs it between its plain-SQL disable and enable.
"""
import argparse
import subprocess
import sys
import time

SETTLE_S = 0.3  # 3x the application's poll interval (tests/backend/backend.py AppDirectory)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--seconds", type=float, default=0.0)
    ap.add_argument("schema")
    a = ap.parse_args()
    started = time.monotonic()
    host, port, user, password, db = a.db.split(":", 4)
    argv = ["mariadb", "--protocol=TCP", "-h", host, "-P", port, "-u", user, f"-p{password}",
            "--batch", "--skip-column-names", db]

    def sql(text):
        p = subprocess.run(argv, input=text, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=600)
        if p.returncode != 0:
            sys.exit(f"update_task: {p.stderr.strip()}")
        return p.stdout

    schema = a.schema.replace("`", "")
    before = sql(f"SELECT state FROM app_schemas WHERE name='{schema}'").strip() or "enabled"
    sql(f"UPDATE app_schemas SET state='updating' WHERE name='{schema}'")
    has_data = sql("SELECT COUNT(*) FROM information_schema.tables WHERE "
                   f"table_schema='{schema}' AND table_name='data'").strip() == "1"
    if has_data:
        sql(f"ALTER TABLE `{schema}`.data ADD COLUMN IF NOT EXISTS v8 INT NOT NULL DEFAULT 0")
    left = a.seconds - (time.monotonic() - started)
    if left > 0:
        time.sleep(left)
    sql(f"UPDATE app_schemas SET state='{before}' WHERE name='{schema}'")
    time.sleep(SETTLE_S)
    print(f"updated {schema} in {time.monotonic() - started:.2f} s")


if __name__ == "__main__":
    main()
