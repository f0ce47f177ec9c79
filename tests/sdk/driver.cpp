// Starts two local workers and runs a call and a RemoteChannel round trip on them,
// through the installed SDK only. Prints "sdk ok" when every answer is right.
#include <cstdio>
#include <weft/weft.h>

int main(int argc, char** argv)
{
    weft::ClusterOptions o;
    if (argc > 1)
        o.worker_path = argv[1];
    weft::Cluster c(o);
    const auto pids = c.addprocs(2);
    const auto three = c.remotecall_fetch("add", pids.at(0), 1, 2).as_int();
    auto ch = weft::RemoteChannel::create(c, 4, pids.at(1));
    ch.put(41);
    const auto taken = ch.take().as_int();
    std::printf(
        "add: %lld, channel: %lld\n", static_cast<long long>(three), static_cast<long long>(taken));
    if (three != 3 || taken != 41)
        return 1;
    std::printf("sdk ok\n");
    return 0;
}
