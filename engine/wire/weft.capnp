@0xd4b11816b6e485a9;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("weft::wire");
# Weft's wire protocol: every frame on every connection is one Message, in standard Cap'n Proto
# stream framing, so `capnp decode weft.capnp Message` reads a captured stream.

struct RefId {
  whence @0 :UInt32;   # the process that created the reference
  n @1 :UInt64;        # a counter on that process
}

enum DType {
  float64 @0;
  float32 @1;
  int64 @2;
  int32 @3;
  uint8 @4;
  bool @5;
}

struct NdArray {
  dtype @0 :DType;
  shape @1 :List(UInt64);   # column-major, like Julia
  data @2 :Data;            # read in place on arrival
}

enum RefKind {
  future @0;
  channel @1;
}

struct RemoteRef {
  kind @0 :RefKind;
  id @1 :RefId;
  owner @2 :UInt32;         # where the value lives
  # A Future already fetched by the sender travels with its value, and the receiver holds nothing
  # at the owner (which may have freed it); one the sender finalized travels as released.
  cached @3 :Value;
  released @4 :Bool;
}

# Which typed exception an error becomes where it is thrown (weft::ErrorKind).
enum ErrorKind {
  remote @0;          # RemoteException carrying `type`
  kernelNotFound @1;
  processExited @2;
  invalidState @3;
  connection @4;
  unknownProcess @5;
}

struct Error {
  type @0 :Text;            # for people: "std::runtime_error", "KernelNotFound", ...
  message @1 :Text;
  origin @2 :UInt32;
  backtrace @3 :List(Text);
  subject @4 :Text;         # what the error is about: a kernel name, a reference
  kind @5 :ErrorKind;
}

struct MapEntry {
  key @0 :Text;
  value @1 :Value;
}

struct Value {
  union {
    nil @0 :Void;
    bool @1 :Bool;
    int64 @2 :Int64;
    float64 @3 :Float64;
    text @4 :Text;
    bytes @5 :Data;
    array @6 :NdArray;
    list @7 :List(Value);
    map @8 :List(MapEntry);
    ref @9 :RemoteRef;
    error @10 :Error;
  }
}

# Handshake: connector -> Hello, acceptor -> Challenge, connector -> Proof, acceptor -> Welcome.
# Both sides prove they know the cookie with HMAC-SHA256 over both nonces; the cookie itself never
# crosses the wire.
struct Hello {
  pid @0 :UInt32;           # the connector's pid (1 for the master)
  nonce @1 :Data;
  protocol @2 :UInt32;
}
struct Challenge {
  nonce @0 :Data;
  mac @1 :Data;             # HMAC(cookie, "weft-acceptor" | connector nonce | acceptor nonce)
}
struct Proof {
  mac @0 :Data;             # HMAC(cookie, "weft-connector" | acceptor nonce | connector nonce | pid)
}
struct Welcome {
  pid @0 :UInt32;           # the acceptor's pid (0 when it has none yet)
}
struct Reject {
  reason @0 :Text;
}

enum CallKind {
  async @0;    # remotecall: store the result under `ref` on the callee
  fetch @1;    # remotecall_fetch: send the result back
  wait @2;     # remotecall_wait: store under `ref`, then reply when done
  do @3;       # remote_do: run, reply nothing
}

enum Pool {
  default @0;
  interactive @1;           # the callee's default pool runs it if it has no interactive one
}

struct Call {
  kind @0 :CallKind;
  callId @1 :UInt64;        # caller-local id the Result answers
  ref @2 :RefId;            # for async and wait
  kernel @3 :Text;
  args @4 :List(Value);
  pool @5 :Pool;
}

struct Result {
  callId @0 :UInt64;
  value @1 :Value;          # an `error` value when the call failed
}

enum FetchMode {
  value @0;    # reply the value once ready
  wait @1;     # reply nil (or the error) once ready
  probe @2;    # reply at once: true if ready
}

# Ask the owner of a stored value about it.
struct FetchRef {
  callId @0 :UInt64;
  ref @1 :RefId;
  mode @2 :FetchMode;
  release @3 :Bool;         # the asker drops its hold once it has the (non-error) value
}

# Many FetchRefs to one owner at once (fetch_all); answered by a `results` message with every
# value already there, and single Results for the rest as they become ready.
struct FetchMany {
  items @0 :List(FetchRef);
}

struct RefHolder {
  id @0 :RefId;
  holder @1 :UInt32;
}

# Holder changes for values the receiver owns. A process adds the holder before it sends an
# unfetched reference anywhere, on the same connection as its own later removes, so adds reach
# the owner first; holders are counted, so a remove that overtakes its add cannot free early.
struct RefOps {
  adds @0 :List(RefHolder);
  removes @1 :List(RefHolder);
}

struct Peer {
  pid @0 :UInt32;
  host @1 :Text;
  tcp @2 :Text;             # host:port
  unix @3 :Text;            # abstract unix socket name, for peers on the same host
}

enum Topology {
  allToAll @0;
  masterWorker @1;
  lazy @2;
}

struct Join {
  pid @0 :UInt32;           # the id the master gives the worker
  peers @1 :List(Peer);     # every other worker
  topology @2 :Topology;
  telemetryMs @3 :UInt32;   # sample every this many ms (0: off)
}

struct PeerExited {
  pid @0 :UInt32;
  reason @1 :Text;
}

enum ChannelOpKind {
  create @0;
  put @1;
  take @2;
  fetch @3;
  isready @4;
  wait @5;
  close @6;
}

# An operation on a RemoteChannel, carried out on its owner; answered with a Result.
struct ChannelOp {
  callId @0 :UInt64;
  ref @1 :RefId;
  op @2 :ChannelOpKind;
  value @3 :Value;          # for put
  capacity @4 :UInt64;      # for create
}

# One sample of one process (worker -> master), read in place on arrival.
struct PoolStats {
  threads @0 :UInt16;
  busy @1 :UInt16;          # threads running a task
  runnable @2 :UInt64;      # tasks queued, ready to run
  blocked @3 :UInt64;       # tasks suspended in a wait
  completed @4 :UInt64;     # since the process started
}

struct ChannelStats {
  id @0 :RefId;
  length @1 :UInt64;
  capacity @2 :UInt64;
  waitingPutters @3 :UInt64;
  waitingTakers @4 :UInt64;
  closed @5 :Bool;
}

struct Holder {
  pid @0 :UInt32;
  count @1 :Int32;
}

enum StoreState {
  pending @0;
  ready @1;
  error @2;
  open @3;
  closed @4;
}

struct StoreRow {
  id @0 :RefId;
  kind @1 :RefKind;
  bytes @2 :UInt64;
  holders @3 :List(Holder);
  state @4 :StoreState;
  ageSeconds @5 :Float64;
  length @6 :UInt64;        # a channel's values buffered
  capacity @7 :UInt64;
}

struct Traffic {
  peer @0 :UInt32;
  messagesSent @1 :UInt64;
  bytesSent @2 :UInt64;
  messagesReceived @3 :UInt64;
  bytesReceived @4 :UInt64;
}

struct Label {
  id @0 :UInt32;            # as the sender's spans name it
  name @1 :Text;            # the kernel's name
}

struct Telemetry {
  clockNs @0 :Int64;        # the sender's steady clock when it sampled
  cpuPercent @1 :Float64;   # of one core
  rssBytes @2 :UInt64;
  pools @3 :List(PoolStats);        # default, interactive
  channels @4 :List(ChannelStats);
  storeEntries @5 :UInt64;
  storeBytes @6 :UInt64;
  store @7 :List(StoreRow);         # the oldest entries, at most a few hundred
  traffic @8 :List(Traffic);
  # Task spans since the last sample, packed: 24 bytes each, little-endian: start and end (Int64
  # ns, sender's steady clock), label (UInt32), thread (UInt16), pool and finished (UInt8 each).
  spans @9 :Data;
  labels @10 :List(Label);          # names of the labels `spans` uses
  spansDropped @11 :UInt64;
}

struct Message {
  union {
    hello @0 :Hello;
    challenge @1 :Challenge;
    proof @2 :Proof;
    welcome @3 :Welcome;
    reject @4 :Reject;
    join @5 :Join;
    peerAdded @6 :Peer;
    peerExited @7 :PeerExited;
    call @8 :Call;
    result @9 :Result;
    fetchRef @10 :FetchRef;
    refOps @11 :RefOps;
    exit @12 :Void;          # master -> worker: finish and exit
    ping @13 :UInt64;        # raw protocol round trip (benchmarks, liveness)
    pong @14 :UInt64;
    channelOp @15 :ChannelOp;
    fetchMany @16 :FetchMany;
    results @17 :List(Result);
    telemetry @18 :Telemetry;        # worker -> master: one sample of the worker
    telemetryInterval @19 :UInt32;   # master -> worker: sample every this many ms (0: off)
    interrupt @20 :Void;             # master -> worker: interrupt the calls running now
    clockProbe @21 :UInt64;          # master -> worker: answer with your clock (request id)
    clockReading @22 :ClockReading;  # worker -> master
  }
}

# A worker's steady clock when it answered a clock probe: the master maps spans from another
# host onto its own timeline with the offset that round trips bound.
struct ClockReading {
  id @0 :UInt64;
  clockNs @1 :Int64;
}
