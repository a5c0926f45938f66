// The reference side of the interop test: the C++ Cap'n Proto library
// (libcapnp-dev) as a server or as a client of a ceon vat, plain TCP.
//
//   interop_peer server            listens on 127.0.0.1:<free port>, prints the
//                                  port, serves Test under object ID "svc"
//   interop_peer client PORT ID    restores ID (Text) from 127.0.0.1:PORT and
//                                  runs the checks; exit 0 when all pass
//   interop_peer bench PORT ID N   N round trips, then N pipelined calls
#include <capnp/message.h>
#include <capnp/persistent.capnp.h>
#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <sys/resource.h>

#include "interop.capnp.h"

namespace {

class TestImpl final : public Test::Server {
public:
  TestImpl(kj::Timer &timer, kj::String name) : timer(timer), name(kj::mv(name)) {}

protected:
  kj::Promise<void> echo(EchoContext ctx) override {
    ctx.getResults().setText(ctx.getParams().getText());
    return kj::READY_NOW;
  }
  kj::Promise<void> child(ChildContext ctx) override {
    auto n = kj::str(ctx.getParams().getName(), ".", name);
    ctx.getResults().setChild(kj::heap<TestImpl>(timer, kj::mv(n)));
    return kj::READY_NOW;
  }
  kj::Promise<void> getName(GetNameContext ctx) override {
    ctx.getResults().setName(name);
    return kj::READY_NOW;
  }
  kj::Promise<void> callback(CallbackContext ctx) override {
    auto req = ctx.getParams().getCb().notifyRequest();
    req.setText(name);
    return req.send().ignoreResult();
  }
  kj::Promise<void> later(LaterContext ctx) override {
    auto text = kj::heapString(ctx.getParams().getText());
    return timer.afterDelay(20 * kj::MILLISECONDS).then([ctx, text = kj::mv(text)]() mutable {
      ctx.getResults().setText(text);
    });
  }
  kj::Promise<void> next(NextContext ctx) override {
    ctx.getResults().setN(counter++);
    return kj::READY_NOW;
  }
  kj::Promise<void> childLater(ChildLaterContext ctx) override {
    auto n = kj::str(ctx.getParams().getName(), ".", name);
    return timer.afterDelay(20 * kj::MILLISECONDS).then([this, ctx, n = kj::mv(n)]() mutable {
      ctx.getResults().setChild(kj::heap<TestImpl>(timer, kj::mv(n)));
    });
  }
  kj::Promise<void> nameOf(NameOfContext ctx) override {
    return ctx.getParams().getT().getNameRequest().send().then(
        [ctx](capnp::Response<Test::GetNameResults> &&r) mutable {
          ctx.getResults().setName(r.getName());
        });
  }
  kj::Promise<void> identity(IdentityContext ctx) override {
    ctx.getResults().setCap(ctx.getParams().getCap());
    return kj::READY_NOW;
  }

private:
  kj::Timer &timer;
  kj::String name;
  uint64_t counter = 0;
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
class Restorer final : public capnp::SturdyRefRestorer<capnp::Text> {
public:
  explicit Restorer(kj::Timer &timer) : timer(timer) {}
  capnp::Capability::Client restore(capnp::Text::Reader ref) override {
    if (ref == "svc")
      return kj::heap<TestImpl>(timer, kj::str("example.org"));
    KJ_FAIL_REQUIRE("Unknown persistent service ID");
  }

private:
  kj::Timer &timer;
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

int serve() {
  auto io = kj::setupAsyncIo();
  auto addr = io.provider->getNetwork().parseAddress("127.0.0.1", 0).wait(io.waitScope);
  auto listener = addr->listen();
  Restorer restorer(io.provider->getTimer());
  printf("%u\n", listener->getPort());
  fflush(stdout);
  acceptLoop(*listener, restorer).wait(io.waitScope);
  return 0;
}

class CallbackImpl final : public Callback::Server {
public:
  int count = 0;
  kj::String seen;
  kj::String order;

protected:
  kj::Promise<void> notify(NotifyContext ctx) override {
    count++;
    seen = kj::heapString(ctx.getParams().getText());
    order = kj::str(order, seen);
    return kj::READY_NOW;
  }
};

struct Client {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;

  explicit Client(unsigned port) {
    auto addr = io.provider->getNetwork().parseAddress("127.0.0.1", port).wait(io.waitScope);
    stream = addr->connect().wait(io.waitScope);
    network = kj::heap<capnp::TwoPartyVatNetwork>(*stream, capnp::rpc::twoparty::Side::CLIENT);
    rpc = kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(capnp::makeRpcClient(*network));
  }
  Test::Client restore(const char *id) {
    capnp::MallocMessageBuilder host;
    auto vat = host.initRoot<capnp::rpc::twoparty::VatId>();
    vat.setSide(capnp::rpc::twoparty::Side::SERVER);
    capnp::MallocMessageBuilder obj;
    auto root = obj.getRoot<capnp::AnyPointer>();
    root.setAs<capnp::Text>(id);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    return rpc->restore(vat.asReader(), root.asReader()).castAs<Test>();
#pragma GCC diagnostic pop
  }
};

#define CHECK(cond, ...)                                                                       \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                         \
      return 1;                                                                                \
    }                                                                                          \
  } while (0)

int client(unsigned port, const char *id, bool ours) {
  Client c(port);
  auto &ws = c.io.waitScope;
  Test::Client cap = c.restore(id);

  auto e = cap.echoRequest();
  e.setText("hello");
  CHECK(e.send().wait(ws).getText() == "hello");
  printf("ok echo\n");

  // Pipelined: getName on the child before child() has returned.
  auto creq = cap.childRequest();
  creq.setName("www");
  auto cp = creq.send();
  auto child = cp.getChild();
  CHECK(child.getNameRequest().send().wait(ws).getName() == "www.example.org");
  printf("ok pipelined\n");

  // E-order: calls on the promise and after it resolved keep their order.
  auto c2 = cap.childRequest();
  c2.setName("ctr");
  auto ctrp = c2.send();
  Test::Client ctr = ctrp.getChild();
  kj::Vector<kj::Promise<capnp::Response<Test::NextResults>>> nexts;
  for (int i = 0; i < 30; i++) {
    nexts.add(ctr.nextRequest().send());
    if (i == 15) ctrp.wait(ws);
  }
  for (int i = 0; i < 30; i++) CHECK(nexts[i].wait(ws).getN() == (uint64_t)i);
  printf("ok ordering\n");

  auto cb = kj::heap<CallbackImpl>();
  CallbackImpl &cbr = *cb;
  auto breq = cap.callbackRequest();
  breq.setCb(kj::mv(cb));
  breq.send().wait(ws);
  CHECK(cbr.count == 1);
  CHECK(cbr.seen == "example.org");
  printf("ok callback\n");

  // Embargo: our own callback comes back through the server; calls made
  // on the promise before it resolved (reflected by the server) and after
  // (local, once the embargo lifts) must arrive in order.
  {
    auto cb2 = kj::heap<CallbackImpl>();
    CallbackImpl &c2 = *cb2;
    Callback::Client cbc = kj::mv(cb2);
    auto ir = cap.identityRequest();
    ir.setCap(cbc);
    auto ip = ir.send();
    auto pc = ip.getCap();
    kj::Vector<kj::Promise<void>> done;
    for (const char *t : {"1", "2", "3"}) {
      auto n = pc.notifyRequest();
      n.setText(t);
      done.add(n.send().ignoreResult());
    }
    ip.wait(ws);
    for (const char *t : {"4", "5"}) {
      auto n = pc.notifyRequest();
      n.setText(t);
      done.add(n.send().ignoreResult());
    }
    for (auto &d : done) d.wait(ws);
    CHECK(c2.order == "12345");
    printf("ok embargo\n");
  }

  // A capability from a call that has not returned yet, passed back to the
  // same server in another call (receiverAnswer).
  {
    auto c3 = cap.childLaterRequest();
    c3.setName("p");
    auto cp3 = c3.send();
    auto no = cap.nameOfRequest();
    no.setT(cp3.getChild());
    CHECK(no.send().wait(ws).getName() == "p.example.org");
    printf("ok promised capability\n");
  }

  // a.slow().b().c(), and a call on a.slow() dropped (finished) before
  // a.slow() has returned: calls on a question that is itself queued on an
  // unanswered one, and a Finish for a queued question (issue 9 point 3).
  {
    auto a = cap.childLaterRequest();
    a.setName("s");
    auto ap = a.send();
    {
      auto d = ap.getChild().childLaterRequest();
      d.setName("dropped");
      auto dp = d.send();
    }
    auto b = ap.getChild().childLaterRequest();
    b.setName("b");
    auto bp = b.send();
    CHECK(bp.getChild().getNameRequest().send().wait(ws).getName() == "b.s.example.org");
    printf("ok chained pipeline\n");
  }

  auto l = cap.laterRequest();
  l.setText("later");
  CHECK(l.send().wait(ws).getText() == "later");
  printf("ok async\n");

  if (ours) {
    // Persistent.save on a returned capability.
    auto p = child.castAs<capnp::Persistent<capnp::Text, capnp::AnyPointer>>();
    auto resp = p.saveRequest().send().wait(ws);
    auto sr = resp.getSturdyRef();
    CHECK(kj::StringPtr(sr).startsWith("capnp://"));
    printf("ok save %s\n", sr.cStr());

    Test::Client bad = c.restore("nope");
    auto be = bad.echoRequest();
    be.setText("x");
    bool failed = false;
    kj::String why;
    be.send().then([](auto &&) {}, [&](kj::Exception &&ex) {
      failed = true;
      why = kj::str(ex.getDescription());
    }).wait(ws);
    CHECK(failed);
    CHECK(strstr(why.cStr(), "Unknown persistent service ID") != nullptr);
    printf("ok unknown id\n");
  }
  return 0;
}

double cpuSeconds() { // as in interop_ceon.c: user + system time of this process
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int bench(unsigned port, const char *id, int n) {
  auto ts = std::chrono::steady_clock::now();
  Client c(port);
  auto &ws = c.io.waitScope;
  Test::Client cap = c.restore(id);
  {
    auto e = cap.echoRequest();
    e.setText("x");
    e.send().wait(ws);
  }
  auto t0 = std::chrono::steady_clock::now();
  double c0 = cpuSeconds();
  // The same work as interop_ceon's bench: echo("x"), each answer checked.
  for (int i = 0; i < n; i++) {
    auto e = cap.echoRequest();
    e.setText("x");
    CHECK(e.send().wait(ws).getText() == "x");
  }
  auto t1 = std::chrono::steady_clock::now();
  double c1 = cpuSeconds();
  // Pipelined: batches of 1000 calls in flight (the server's question
  // limit is 4096 in ceon): all 1000 sent, then one wait for all of them.
  int bad = 0;
  for (int done = 0; done < n; done += 1000) {
    auto ps = kj::heapArrayBuilder<kj::Promise<void>>(kj::min(1000, n - done));
    for (int i = done; i < n && i < done + 1000; i++) {
      auto e = cap.echoRequest();
      e.setText("x");
      ps.add(e.send().then([&bad](capnp::Response<Test::EchoResults> &&r) {
        if (r.getText() != "x") bad++;
      }));
    }
    kj::joinPromises(ps.finish()).wait(ws);
  }
  CHECK(bad == 0);
  auto t2 = std::chrono::steady_clock::now();
  double c2 = cpuSeconds();
  double setup = std::chrono::duration<double>(t0 - ts).count();
  double rt = std::chrono::duration<double>(t1 - t0).count();
  double pl = std::chrono::duration<double>(t2 - t1).count();
  printf("setup_ms %.2f\nroundtrip_per_s %.0f\npipelined_per_s %.0f\n", setup * 1e3, n / rt,
         n / pl);
  printf("roundtrip_client_cpu_us %.1f\npipelined_client_cpu_us %.1f\n", (c1 - c0) * 1e6 / n,
         (c2 - c1) * 1e6 / n);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "server") == 0) return serve();
  if (argc >= 4 && strcmp(argv[1], "client") == 0)
    return client(atoi(argv[2]), argv[3], argc > 4 && strcmp(argv[4], "ours") == 0);
  if (argc >= 5 && strcmp(argv[1], "bench") == 0)
    return bench(atoi(argv[2]), argv[3], atoi(argv[4]));
  fprintf(stderr, "usage: interop_peer server | client PORT ID [ours] | bench PORT ID N\n");
  return 2;
}
