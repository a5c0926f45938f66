// A primary with the ORIGINAL's (eon's) semantics, on the reference C++
// Cap'n Proto library (libcapnp-dev), plain TCP: what a ceon secondary
// (`capd --primary FILE`) must accept from an eon primary (issue 14).
//
//   eon_primary_peer ZONE URI_FILE SECONDARY_DIR [--soa-first]
//
// Listens on 127.0.0.1:<free port> and writes URI_FILE with the sturdy ref
// `capnp://insecure@127.0.0.1:PORT/<base64url("eon-primary")>` (no newline,
// written to a temp file and renamed). Serves a Primary for ZONE holding a
// small built-in zone. What it does is eon's lib/cap/primary.ml, from its
// facts (../shared/reference/eon-facts.md), not its code:
//   getName            -> ZONE
//   registerSeconday(s): while that call is pending, Persistent.save on s
//       (its URI + newline goes to SECONDARY_DIR/<host of the URI>.cap, as
//       eon names it), then s.update([], [remove(ZONE, SOA)]), then ONE
//       s.update([], every record as a single-value add): names in
//       descending order of eon's domain-name order (more labels first,
//       then labels compared from the root, case-insensitive), each name's
//       operations reversed (eon's encoder prepends), so the apex comes last
//       and its SOA (TTL = the SOA's minimum) is the very last operation.
//       --soa-first puts the apex SOA first among the apex's operations
//       instead (the other order a reader of primary.ml might expect).
//       Answers after both updates returned success; a failure fails the
//       call ("Error transfering zone"), as eon.
// Commands on stdin, one per line (the test's Domain.update stand-in):
//   add|NAME|TYPE|VALUE|TTL, remove|NAME|TYPE, removeAll|NAME,
//   removeSingle|NAME|TYPE|VALUE       (TYPE: A, AAAA, TXT, CNAME, NS)
//       queue one operation of the next batch
//   send   applies the batch to the peer's own zone (serial + 1) and
//          forwards it as eon's updateSecondaries does: one Secondary.update
//          per registered secondary, in turn, operations regrouped by name
//          (names descending, each name's operations reversed: eon's
//          Map.fold + prepend); prints "forwarded K/N" (K answered success)
//          and one "secondary I: ERROR" line per failure.
//   count  prints "secondaries N".
// Prints "listening PORT", "registered URI" and "transferred N records"
// on stdout (flushed) for the test to wait on.
#include <algorithm>
#include <arpa/inet.h>
#include <capnp/message.h>
#include <capnp/persistent.capnp.h>
#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <string>
#include <vector>

#include "eon.capnp.h"

namespace {

struct Record {
  std::string name; // lower case, no trailing dot
  int type;
  int32_t ttl;
  std::string rdata; // uncompressed wire RDATA of one record
};

struct Op {
  enum Kind { ADD, REMOVE, REMOVE_ALL, REMOVE_SINGLE } kind;
  std::string name;
  int type = 0;
  std::string rdata;
  int32_t ttl = 0;
};

std::string lower(std::string s) {
  for (auto &c : s) c = (char)tolower((unsigned char)c);
  return s;
}

std::vector<std::string> labels(const std::string &name) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out.push_back(lower(name.substr(start, dot - start)));
    start = dot + 1;
  }
  return out;
}

// eon's (domain-name library's) order: fewer labels first; equal counts
// compare label by label from the root.
int name_cmp(const std::string &a, const std::string &b) {
  auto la = labels(a), lb = labels(b);
  if (la.size() != lb.size()) return la.size() < lb.size() ? -1 : 1;
  for (size_t i = la.size(); i-- > 0;) {
    int c = la[i].compare(lb[i]);
    if (c) return c < 0 ? -1 : 1;
  }
  return 0;
}

std::string wire_name(const std::string &name) {
  std::string out;
  for (auto &l : labels(name)) {
    if (l.empty()) continue;
    out += (char)l.size();
    out += l;
  }
  out += '\0';
  return out;
}

std::string u16(unsigned v) { return std::string{(char)(v >> 8), (char)v}; }
std::string u32(uint32_t v) { return u16(v >> 16) + u16(v & 0xffff); }

bool rdata_of(int type, const std::string &value, std::string &out) {
  unsigned char buf[16];
  switch (type) {
  case 1:
    if (inet_pton(AF_INET, value.c_str(), buf) != 1) return false;
    out.assign((char *)buf, 4);
    return true;
  case 28:
    if (inet_pton(AF_INET6, value.c_str(), buf) != 1) return false;
    out.assign((char *)buf, 16);
    return true;
  case 16: // one character-string, verbatim (as eon's capc)
    if (value.size() > 255) return false;
    out = std::string(1, (char)value.size()) + value;
    return true;
  case 5:
  case 2:
    out = wire_name(value);
    return true;
  }
  return false;
}

int type_of(const std::string &t) {
  if (t == "A") return 1;
  if (t == "NS") return 2;
  if (t == "CNAME") return 5;
  if (t == "SOA") return 6;
  if (t == "MX") return 15;
  if (t == "TXT") return 16;
  if (t == "AAAA") return 28;
  return -1;
}

class PrimaryImpl final : public Primary::Server {
public:
  PrimaryImpl(std::string zone, std::string dir, bool soa_first)
      : zone(lower(zone)), dir(kj::mv(dir)), soa_first(soa_first) {
    auto at = [&](const char *rel) {
      return std::string(rel) == "@" ? this->zone : std::string(rel) + "." + this->zone;
    };
    auto add = [&](const char *rel, const char *type, int32_t ttl, std::string rdata) {
      records.push_back({at(rel), type_of(type), ttl, kj::mv(rdata)});
    };
    std::string r;
    add("@", "NS", 3600, wire_name("ns1." + this->zone));
    add("@", "NS", 3600, wire_name("ns2." + this->zone));
    rdata_of(1, "203.0.113.1", r), add("@", "A", 3600, r);
    add("@", "MX", 3600, u16(10) + wire_name("mail." + this->zone));
    rdata_of(16, "v=spf1 -all", r), add("@", "TXT", 600, r);
    rdata_of(1, "192.0.2.1", r), add("ns1", "A", 3600, r);
    rdata_of(1, "192.0.2.2", r), add("ns2", "A", 3600, r);
    rdata_of(1, "192.0.2.25", r), add("mail", "A", 3600, r);
    rdata_of(28, "2001:db8::25", r), add("mail", "AAAA", 3600, r);
    rdata_of(1, "192.0.2.80", r), add("www", "A", 300, r);
    rdata_of(1, "192.0.2.81", r), add("www", "A", 300, r);
    rdata_of(28, "2001:db8::80", r), add("www", "AAAA", 300, r);
    add("ftp", "CNAME", 300, wire_name("www." + this->zone));
    rdata_of(1, "192.0.2.9", r), add("a.b.deep", "A", 60, r);
    rdata_of(16, "original-primary", r), add("_acme-challenge", "TXT", 60, r);
    rdata_of(16, "zz", r), add("zz", "TXT", 60, r);
  }

  kj::Vector<Secondary::Client> secondaries;

  size_t record_count() const { return records.size() + 1; }

  // The SOA's RDATA at the current serial; its TTL is its minimum (300).
  std::string soa_rdata() const {
    return wire_name("ns1." + zone) + wire_name("hostmaster." + zone) + u32(serial) + u32(3600) +
           u32(900) + u32(1814400) + u32(300);
  }

  // The full transfer's second call: eon's order (see the header).
  std::vector<Op> transfer_ops() const {
    std::vector<Record> rs = records;
    std::stable_sort(rs.begin(), rs.end(),
                     [](const Record &a, const Record &b) { return name_cmp(a.name, b.name) > 0; });
    std::vector<Op> ops;
    // Per name, eon's list is [SOA if apex; records...] and reaches the
    // wire reversed: records reversed, then the SOA.
    size_t i = 0;
    while (i < rs.size()) {
      size_t j = i;
      while (j < rs.size() && name_cmp(rs[j].name, rs[i].name) == 0) j++;
      bool apex = name_cmp(rs[i].name, zone) == 0;
      if (apex && soa_first) ops.push_back({Op::ADD, zone, 6, soa_rdata(), 300});
      for (size_t k = j; k-- > i;) ops.push_back({Op::ADD, rs[k].name, rs[k].type, rs[k].rdata, rs[k].ttl});
      if (apex && !soa_first) ops.push_back({Op::ADD, zone, 6, soa_rdata(), 300});
      i = j;
    }
    return ops;
  }

  bool in_zone(const std::string &name) const {
    auto n = labels(name), z = labels(zone);
    return n.size() >= z.size() && std::equal(z.rbegin(), z.rend(), n.rbegin());
  }

  // The peer's own zone follows the batch (what eon's Domain.update does
  // before forwarding); names outside the zone are forwarded, not kept.
  void apply(const std::vector<Op> &batch) {
    for (auto &op : batch) {
      if (!in_zone(op.name)) continue;
      auto same = [&](const Record &r) {
        if (name_cmp(r.name, op.name) != 0) return false;
        if (op.kind == Op::REMOVE_ALL) return true;
        if (r.type != op.type) return false;
        return op.kind == Op::REMOVE || r.rdata == op.rdata;
      };
      if (op.kind == Op::ADD) {
        bool dup = false;
        for (auto &r : records) dup |= same(r);
        if (!dup) records.push_back({lower(op.name), op.type, op.ttl, op.rdata});
      } else {
        records.erase(std::remove_if(records.begin(), records.end(), same), records.end());
      }
    }
    serial++;
  }

  static void fill(capnp::List<Update>::Builder list, const std::vector<Op> &ops) {
    for (size_t i = 0; i < ops.size(); i++) {
      auto u = list[(unsigned)i];
      auto &op = ops[i];
      u.setName(op.name);
      auto data = capnp::Data::Reader((const kj::byte *)op.rdata.data(), op.rdata.size());
      switch (op.kind) {
      case Op::ADD: {
        auto a = u.initAdd();
        a.setType((int16_t)op.type);
        a.setValue(data);
        a.setTtl(op.ttl);
        break;
      }
      case Op::REMOVE:
        u.initRemove().setType((int16_t)op.type);
        break;
      case Op::REMOVE_ALL:
        u.setRemoveAll();
        break;
      case Op::REMOVE_SINGLE: {
        auto r = u.initRemoveSingle();
        r.setType((int16_t)op.type);
        r.setValue(data);
        break;
      }
      }
    }
  }

  // Secondary.update(prereqs = [], ops): rejects unless success=true.
  static kj::Promise<void> update(Secondary::Client s, const std::vector<Op> &ops) {
    auto req = s.updateRequest();
    req.initPrereqs(0);
    fill(req.initUpdates((unsigned)ops.size()), ops);
    return req.send().then([](capnp::Response<Secondary::UpdateResults> &&r) {
      KJ_REQUIRE(r.getSuccess(), "Secondary.update failed", r.getError());
    });
  }

  // eon's updateSecondaries: regrouped by name, then each secondary in turn.
  kj::Promise<void> forward(std::vector<Op> batch) {
    std::vector<Op> ops;
    std::vector<std::string> names;
    for (auto &op : batch)
      if (std::none_of(names.begin(), names.end(), [&](auto &n) { return name_cmp(n, op.name) == 0; }))
        names.push_back(op.name);
    std::sort(names.begin(), names.end(), [](auto &a, auto &b) { return name_cmp(a, b) > 0; });
    for (auto &n : names)
      for (size_t k = batch.size(); k-- > 0;)
        if (name_cmp(batch[k].name, n) == 0) ops.push_back(batch[k]);
    apply(batch);
    auto ok = kj::heap<size_t>(0);
    kj::Promise<void> chain = kj::READY_NOW;
    for (size_t i = 0; i < secondaries.size(); i++) {
      chain = chain.then([this, i, ops, &n = *ok]() {
        return update(secondaries[i], ops).then([&n]() { n++; }, [i](kj::Exception &&e) {
          printf("secondary %zu: %s\n", i, e.getDescription().cStr());
        });
      });
    }
    return chain.then([this, ok = kj::mv(ok)]() {
      printf("forwarded %zu/%zu\n", *ok, secondaries.size());
      fflush(stdout);
    });
  }

protected:
  kj::Promise<void> getName(GetNameContext ctx) override {
    ctx.getResults().setName(zone);
    return kj::READY_NOW;
  }

  kj::Promise<void> registerSeconday(RegisterSecondayContext ctx) override {
    Secondary::Client s = ctx.getParams().getSecondary();
    secondaries.add(s);
    auto save = s.castAs<capnp::Persistent<capnp::Text, capnp::AnyPointer>>().saveRequest();
    return save.send()
        .then([this, s](capnp::Response<capnp::Persistent<capnp::Text, capnp::AnyPointer>::SaveResults> &&r) mutable {
          std::string uri = r.getSturdyRef().cStr();
          save_uri(uri);
          printf("registered %s\n", uri.c_str());
          fflush(stdout);
          std::vector<Op> clear{{Op::REMOVE, zone, 6, "", 0}};
          return update(s, clear);
        })
        .then([this, s]() mutable { return update(s, transfer_ops()); })
        .then(
            [this]() -> kj::Promise<void> {
              printf("transferred %zu records\n", record_count());
              fflush(stdout);
              return kj::READY_NOW;
            },
            [](kj::Exception &&e) -> kj::Promise<void> {
              printf("transfer failed: %s\n", e.getDescription().cStr());
              fflush(stdout);
              return KJ_EXCEPTION(FAILED, "Error transfering zone");
            });
  }

  kj::Promise<void> updateSecondaries(UpdateSecondariesContext ctx) override {
    std::vector<Op> batch;
    for (auto u : ctx.getParams().getUpdates()) {
      Op op;
      op.name = u.getName();
      switch (u.which()) {
      case Update::ADD:
        op.kind = Op::ADD, op.type = u.getAdd().getType(), op.ttl = u.getAdd().getTtl();
        op.rdata.assign((const char *)u.getAdd().getValue().begin(), u.getAdd().getValue().size());
        break;
      case Update::REMOVE:
        op.kind = Op::REMOVE, op.type = u.getRemove().getType();
        break;
      case Update::REMOVE_ALL:
        op.kind = Op::REMOVE_ALL;
        break;
      case Update::REMOVE_SINGLE:
        op.kind = Op::REMOVE_SINGLE, op.type = u.getRemoveSingle().getType();
        op.rdata.assign((const char *)u.getRemoveSingle().getValue().begin(),
                        u.getRemoveSingle().getValue().size());
        break;
      }
      batch.push_back(op);
    }
    // eon: errors are only logged, success is always true.
    return forward(kj::mv(batch)).then([ctx]() mutable { ctx.getResults().setSuccess(true); });
  }

private:
  std::string zone, dir;
  bool soa_first;
  uint32_t serial = 2026120501;
  std::vector<Record> records;

  void save_uri(const std::string &uri) {
    // eon: SECONDARY_DIR/<host of the URI>.cap, the URI and a newline.
    auto at = uri.find('@');
    auto host = uri.substr(at == std::string::npos ? 0 : at + 1);
    host = host.substr(0, host.find_last_of(':'));
    auto path = dir + "/" + host + ".cap";
    FILE *f = fopen((path + ".new").c_str(), "w");
    KJ_REQUIRE(f != nullptr, "cannot write", path);
    fprintf(f, "%s\n", uri.c_str());
    fclose(f);
    KJ_REQUIRE(rename((path + ".new").c_str(), path.c_str()) == 0, "cannot rename", path);
  }
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
class Restorer final : public capnp::SturdyRefRestorer<capnp::Text> {
public:
  explicit Restorer(Primary::Client p) : primary(kj::mv(p)) {}
  capnp::Capability::Client restore(capnp::Text::Reader ref) override {
    if (ref == "eon-primary") return primary;
    KJ_FAIL_REQUIRE("Unknown persistent service ID");
  }

private:
  Primary::Client primary;
};

struct ServerConn {
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
  ServerConn(kj::Own<kj::AsyncIoStream> s, Restorer &r)
      : stream(kj::mv(s)), network(*stream, capnp::rpc::twoparty::Side::SERVER),
        rpc(capnp::makeRpcServer(network, r)) {}
};
#pragma GCC diagnostic pop

kj::Promise<void> acceptLoop(kj::ConnectionReceiver &listener, Restorer &r) {
  return listener.accept().then([&](kj::Own<kj::AsyncIoStream> s) {
    auto conn = kj::heap<ServerConn>(kj::mv(s), r);
    auto done = conn->network.onDisconnect();
    done.attach(kj::mv(conn)).detach([](kj::Exception &&) {});
    return acceptLoop(listener, r);
  });
}

std::vector<std::string> split(const std::string &s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t bar = s.find('|', start);
    out.push_back(s.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) return out;
    start = bar + 1;
  }
}

struct Commands {
  PrimaryImpl &primary;
  kj::Own<kj::AsyncInputStream> in;
  std::string buf;
  std::vector<Op> batch;
  char chunk[4096];

  // Reads stdin until EOF, running one line at a time.
  kj::Promise<void> loop() {
    auto nl = buf.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      return run(line).then([this]() { return loop(); });
    }
    return in->tryRead(chunk, 1, sizeof chunk).then([this](size_t n) -> kj::Promise<void> {
      if (n == 0) return kj::NEVER_DONE; // keep serving after stdin closes
      buf.append(chunk, n);
      return loop();
    });
  }

  kj::Promise<void> run(const std::string &line) {
    auto f = split(line);
    Op op;
    if (f[0] == "send") {
      auto b = kj::mv(batch);
      batch.clear();
      return primary.forward(kj::mv(b));
    }
    if (f[0] == "count") {
      printf("secondaries %zu\n", primary.secondaries.size());
      fflush(stdout);
      return kj::READY_NOW;
    }
    bool ok = f.size() >= 2;
    if (ok) op.name = f[1];
    if (ok && f[0] == "add" && f.size() == 5) {
      op.kind = Op::ADD, op.type = type_of(f[2]), op.ttl = atoi(f[4].c_str());
      ok = rdata_of(op.type, f[3], op.rdata);
    } else if (ok && f[0] == "remove" && f.size() == 3) {
      op.kind = Op::REMOVE, op.type = type_of(f[2]);
      ok = op.type > 0;
    } else if (ok && f[0] == "removeAll" && f.size() == 2) {
      op.kind = Op::REMOVE_ALL;
    } else if (ok && f[0] == "removeSingle" && f.size() == 4) {
      op.kind = Op::REMOVE_SINGLE, op.type = type_of(f[2]);
      ok = rdata_of(op.type, f[3], op.rdata);
    } else {
      ok = false;
    }
    if (!ok) {
      printf("bad command: %s\n", line.c_str());
      fflush(stdout);
    } else {
      batch.push_back(op);
    }
    return kj::READY_NOW;
  }
};

std::string b64url(const std::string &in) {
  static const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (unsigned char c : in) {
    v = v << 8 | c, bits += 8;
    while (bits >= 6) out += t[(v >> (bits -= 6)) & 63];
  }
  if (bits) out += t[(v << (6 - bits)) & 63];
  return out;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 4 || (argc == 5 && strcmp(argv[4], "--soa-first") != 0) || argc > 5) {
    fprintf(stderr, "usage: eon_primary_peer ZONE URI_FILE SECONDARY_DIR [--soa-first]\n");
    return 1;
  }
  auto io = kj::setupAsyncIo();
  auto addr = io.provider->getNetwork().parseAddress("127.0.0.1", 0).wait(io.waitScope);
  auto listener = addr->listen();
  auto impl = kj::heap<PrimaryImpl>(argv[1], argv[3], argc == 5);
  PrimaryImpl &primary = *impl;
  Primary::Client client = kj::mv(impl);
  Restorer restorer(client);
  std::string uri =
      "capnp://insecure@127.0.0.1:" + std::to_string(listener->getPort()) + "/" + b64url("eon-primary");
  std::string tmp = std::string(argv[2]) + ".new";
  FILE *f = fopen(tmp.c_str(), "w");
  if (!f || fputs(uri.c_str(), f) < 0 || fclose(f) != 0 || rename(tmp.c_str(), argv[2]) != 0) {
    perror(argv[2]);
    return 1;
  }
  printf("listening %u\n", listener->getPort());
  fflush(stdout);
  Commands cmds{primary, io.lowLevelProvider->wrapInputFd(0), {}, {}, {}};
  auto input = cmds.loop().eagerlyEvaluate([](kj::Exception &&e) {
    fprintf(stderr, "stdin: %s\n", e.getDescription().cStr());
  });
  acceptLoop(*listener, restorer).wait(io.waitScope);
  return 0;
}
