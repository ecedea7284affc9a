#!/usr/bin/env python3
"""An Open-Xchange configdb, filled the way OX's own command-line tools fill it.

The tables are tests/fixtures/sql/ox_configdb.sql (OX's, column for column). OxConfigdb writes
SQL that does what these OX tools do to them:

  registerserver -n NAME          a configdb_sequence id, a server row
  registerdatabase -n NAME        a configdb_sequence id, db_pool, db_cluster, contexts_per_dbpool
  createschema (explicit name)    a contexts_per_dbschema row with count 0
  createcontext -i CID -N NAME    context, context_server2db_pool, login2context (the cid as text,
                                  the name, extra mappings), both count tables + 1
  disablecontext -i CID           enabled = 0, reason_id = REASON

and the statements OX's schema tools run while a cluster is upgraded (module functions):

  disableschema -> disable_schema_sql()   enableschema -> enable_schema_sql()
  changeserver  -> change_server_sql()

As a module (tests):   c = OxConfigdb(); sid = c.register_server("oxserver-1"); ...; c.sql()
As a command (demo):   ox_configdb.py --servers oxserver-1,oxserver-2 \\
                          --schemas oxdatabase_3,oxdatabase_5 --contexts 60 > configdb.sql
  prints the fixture's tables followed by the data, ready for `mariadb DB < configdb.sql`.
"""
import argparse
import os
import sys

OX_MAINTENANCE_REASON = 1431655765  # OX's SCHEMA_MOVE_MAINTENANCE_REASON
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "sql",
                       "ox_configdb.sql")
CREATING_DATE = 1700000000000  # contexts_per_dbschema.creating_date, ms


def quote(text):
    return "'" + str(text).replace("\\", "\\\\").replace("'", "''") + "'"


def tables_sql():
    """OX's tables (drops and creates them)."""
    with open(FIXTURE) as f:
        return f.read()


def disable_schema_sql(schema, reason=OX_MAINTENANCE_REASON):
    """disableschema: every enabled context of |schema| gets enabled = 0 and |reason|."""
    return ("UPDATE context SET enabled = 0, reason_id = %d WHERE cid IN (SELECT cid FROM "
            "context_server2db_pool WHERE db_schema = %s) AND enabled = 1" % (reason, quote(schema)))


def enable_schema_sql(schema, reason=OX_MAINTENANCE_REASON):
    """enableschema: exactly the contexts disabled with |reason| are enabled again."""
    return ("UPDATE context SET enabled = 1, reason_id = NULL WHERE cid IN (SELECT cid FROM "
            "context_server2db_pool WHERE db_schema = %s) AND enabled = 0 AND reason_id = %d"
            % (quote(schema), reason))


def change_server_sql(server_id, schema):
    """changeserver: the schema's contexts live on |server_id| from now on."""
    return "UPDATE context_server2db_pool SET server_id=%d WHERE db_schema=%s" % (
        server_id, quote(schema))


class OxConfigdb:
    """Collects the SQL of a configdb's content; ids follow OX's configdb_sequence."""

    def __init__(self):
        self.seq = 0
        self.servers = []   # (id, name)
        self.pools = []     # (id, name, url)
        self.schemas = []   # (pool, name)
        self.contexts = []  # (cid, name, enabled, reason)
        self.mappings = []  # (server, cid, pool, schema)
        self.logins = []    # (cid, login)
        self.pool_count = {}
        self.schema_count = {}

    def next_id(self):
        self.seq += 1
        return self.seq

    def register_server(self, name):
        sid = self.next_id()
        self.servers.append((sid, name))
        return sid

    def register_database(self, name, url="jdbc:mysql://localhost/"):
        pid = self.next_id()
        self.pools.append((pid, name, url))
        self.pool_count[pid] = 0
        return pid

    def create_schema(self, pool, name):
        self.schemas.append((pool, name))
        self.schema_count[(pool, name)] = 0

    def create_context(self, cid, name, server, pool, schema, logins=()):
        self.contexts.append([cid, name, 1, None])
        self.mappings.append((server, cid, pool, schema))
        for login in [str(cid), name] + list(logins):
            self.logins.append((cid, login))
        self.pool_count[pool] += 1
        self.schema_count[(pool, schema)] += 1

    def disable_context(self, cid, reason):
        for c in self.contexts:
            if c[0] == cid:
                c[2], c[3] = 0, reason

    def sql(self):
        """The content as INSERT statements (';' at line ends), after configdb_sequence's 0."""
        out = []

        def insert(table, rows, chunk=500):
            for i in range(0, len(rows), chunk):
                values = ",\n  ".join("(" + ", ".join(v for v in row) + ")"
                                      for row in rows[i:i + chunk])
                out.append(f"INSERT INTO {table} VALUES\n  {values};")

        def lit(v):
            return "NULL" if v is None else (str(v) if isinstance(v, int) else quote(v))

        insert("server", [(lit(i), lit(n)) for i, n in self.servers])
        insert("db_pool", [(lit(i), lit(url), lit("com.mysql.jdbc.Driver"), lit("openexchange"),
                            lit("secret"), "0", "100", "0", lit(n)) for i, n, url in self.pools])
        insert("db_cluster", [(lit(k + 1), "0", lit(i), "100", "1000")
                              for k, (i, _, _) in enumerate(self.pools)])
        insert("contexts_per_dbpool", [(lit(p), lit(n)) for p, n in self.pool_count.items()])
        insert("contexts_per_dbschema", [(lit(p), lit(s), lit(self.schema_count[(p, s)]),
                                          lit(CREATING_DATE)) for p, s in self.schemas])
        insert("context (cid, name, enabled, reason_id, filestore_id, filestore_name, quota_max)",
               [(lit(c), lit(n), lit(e), lit(r), "2", lit(f"{c}_ctx_store"), "1024")
                for c, n, e, r in self.contexts])
        insert("context_server2db_pool", [(lit(s), lit(c), lit(p), lit(p), lit(sch))
                                          for s, c, p, sch in self.mappings])
        insert("login2context", [(lit(c), lit(l)) for c, l in self.logins])
        out.append(f"UPDATE configdb_sequence SET id = {self.seq};")
        return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", default="oxserver-1,oxserver-2",
                    help="server names; schemas are spread over them in turn")
    ap.add_argument("--schemas", default="oxdatabase_3,oxdatabase_5,oxdatabase_10,oxdatabase_44")
    ap.add_argument("--contexts", type=int, default=40, help="contexts, spread over the schemas")
    ap.add_argument("--domain", default="example.com", help="context names: ctxN.DOMAIN")
    a = ap.parse_args()
    c = OxConfigdb()
    servers = [c.register_server(n) for n in a.servers.split(",")]
    pool = c.register_database("oxdatabase")
    schemas = a.schemas.split(",")
    for s in schemas:
        c.create_schema(pool, s)
    for cid in range(1, a.contexts + 1):
        k = (cid - 1) % len(schemas)
        # Context 1 also gets the mapping OX uses for logins without '@' (createcontext -L).
        c.create_context(cid, f"ctx{cid}.{a.domain}", servers[k % len(servers)], pool, schemas[k],
                         ["defaultcontext"] if cid == 1 else [])
    sys.stdout.write(tables_sql())
    sys.stdout.write(c.sql())
    return 0


if __name__ == "__main__":
    sys.exit(main())
