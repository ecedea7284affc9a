#pragma once
// The Open-Xchange configdb of the database unit tests: tests/fixtures/sql/ox_configdb.sql (OX's
// tables, column for column) plus a small directory written the way OX's tools write it.
//
//   server           1 oxserver-1, 2 oxserver-2
//   db_pool/cluster  3 oxdatabase (schemas oxdatabase_5, _6), 4 oxdatabase2 (_7 and _8, empty)
//   context          1 defaultcontext, 2 acme.example.com (oxdatabase_5, server 1)
//                    3 globex.example.com, 10 disabled.example.com (enabled 0, reason 7)
//                    (oxdatabase_6, server 1)
//                    20 initech.example.com (oxdatabase_7, server 2)
//   login2context    every cid as text and every name; 20 also 'Initech.Test'
//   configdb_sequence 20

#include <fstream>
#include <string>

#include <catch.hpp>

#include "routing/db.h"

namespace sy::test {

// Runs tests/fixtures/sql/ox_configdb.sql statement by statement (';' at a line end).
inline void load_ox_tables(sy::routing::Db& db) {
  std::ifstream in(std::string(SY_SOURCE_DIR) + "/tests/fixtures/sql/ox_configdb.sql");
  REQUIRE(in.good());
  std::string line;
  std::string stmt;
  int statements = 0;
  while (std::getline(in, line)) {
    if (line.rfind("--", 0) == 0) {
      continue;
    }
    stmt += line + "\n";
    if (!line.empty() && line.back() == ';') {
      stmt.resize(stmt.size() - 2);
      auto r = db.exec(stmt);
      INFO(stmt);
      REQUIRE(r.ok());
      ++statements;
      stmt.clear();
    }
  }
  REQUIRE(statements > 10);
}

inline void load_ox_configdb(sy::routing::Db& db) {
  load_ox_tables(db);
  const char* seed[] = {
      "INSERT INTO server (server_id, name) VALUES (1, 'oxserver-1'), (2, 'oxserver-2')",
      "INSERT INTO db_pool VALUES (3, 'jdbc:mysql://db1/', 'com.mysql.jdbc.Driver',"
      " 'openexchange', 'secret', 0, 100, 0, 'oxdatabase'),"
      " (4, 'jdbc:mysql://db2/', 'com.mysql.jdbc.Driver', 'openexchange', 'secret', 0, 100, 0,"
      " 'oxdatabase2')",
      "INSERT INTO db_cluster VALUES (1, 0, 3, 100, 1000), (2, 0, 4, 100, 1000)",
      "INSERT INTO contexts_per_dbpool VALUES (3, 4), (4, 1)",
      "INSERT INTO contexts_per_dbschema VALUES (3, 'oxdatabase_5', 2, 1700000000000),"
      " (3, 'oxdatabase_6', 2, 1700000000000), (4, 'oxdatabase_7', 1, 1700000000000),"
      " (4, 'oxdatabase_8', 0, 1700000000000)",
      "INSERT INTO reason_text VALUES (7, 'unpaid')",
      "INSERT INTO context (cid, name, enabled, reason_id, filestore_id, filestore_name,"
      " quota_max) VALUES (1, 'defaultcontext', 1, NULL, 2, '1_ctx_store', -1),"
      " (2, 'acme.example.com', 1, NULL, 2, '2_ctx_store', 1024),"
      " (3, 'globex.example.com', 1, NULL, 2, '3_ctx_store', 1024),"
      " (10, 'disabled.example.com', 0, 7, 2, '10_ctx_store', 1024),"
      " (20, 'initech.example.com', 1, NULL, 2, '20_ctx_store', 2048)",
      "INSERT INTO context_server2db_pool VALUES (1, 1, 3, 3, 'oxdatabase_5'),"
      " (1, 2, 3, 3, 'oxdatabase_5'), (1, 3, 3, 3, 'oxdatabase_6'),"
      " (1, 10, 3, 3, 'oxdatabase_6'), (2, 20, 4, 4, 'oxdatabase_7')",
      "INSERT INTO login2context VALUES (1, '1'), (1, 'defaultcontext'), (2, '2'),"
      " (2, 'acme.example.com'), (3, '3'), (3, 'globex.example.com'), (10, '10'),"
      " (10, 'disabled.example.com'), (20, '20'), (20, 'initech.example.com'),"
      " (20, 'Initech.Test')",
      "UPDATE configdb_sequence SET id = 20",
  };
  for (const char* sql : seed) {
    auto r = db.exec(sql);
    INFO(sql);
    REQUIRE(r.ok());
  }
}

}  // namespace sy::test
