// Deploy: files of this machine uploaded over SFTP into a per-user cache on the host, one
// directory per SHA-256, and not sent again when they are there.

#include "ssh_session.h"

#include <libssh/sftp.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <future>

namespace weft::detail {

namespace {

std::string sha256_of_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw SshError("cannot read " + path + " to deploy it: " + std::strerror(errno));
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    std::vector<char> buf(1 << 16);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(in.gcount()));
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

} // namespace

std::string this_engine_library()
{
    Dl_info info {};
    if (::dladdr(reinterpret_cast<void*>(&ssh_destination), &info) == 0 || !info.dli_fname)
        throw SshError("cannot find libweft to deploy it");
    std::error_code ec;
    auto p = std::filesystem::canonical(info.dli_fname, ec);
    return ec ? info.dli_fname : p.string();
}

std::string SshSession::upload(const std::string& local)
{
    if (auto it = staged_.find(local); it != staged_.end())
        return it->second;
    const std::string sum = sha256_of_file(local);
    // libweft is loaded by its SONAME: keep the name the loader looks for.
    std::string name = std::filesystem::path(local).filename().string();
    if (name.rfind("libweft.so", 0) == 0)
        name = "libweft.so.0";
    sftp_session sftp = sftp_new(s_);
    if (!sftp || sftp_init(sftp) != SSH_OK) {
        const std::string why = error();
        if (sftp)
            sftp_free(sftp);
        throw SshError(where_ + ": cannot deploy (no SFTP): " + why);
    }
    std::unique_ptr<sftp_session_struct, void (*)(sftp_session)> guard(sftp, sftp_free);
    auto fail = [&](const std::string& what, const std::string& path) {
        throw SshError(where_ + ": cannot deploy " + local + ": " + what + " " + path
            + " (SFTP error " + std::to_string(sftp_get_error(sftp)) + ": " + error() + ")");
    };
    // mkdir -p of the cache directory, then one directory per checksum.
    std::string dir;
    const auto base = std::filesystem::path(spec_.deploy_dir) / sum;
    for (const auto& part : base) {
        dir = dir.empty() ? part.string() : (dir == "/" ? "/" : dir + "/") + part.string();
        if (dir == "/")
            continue;
        if (sftp_attributes a = sftp_stat(sftp, dir.c_str())) {
            sftp_attributes_free(a);
            continue;
        }
        if (sftp_mkdir(sftp, dir.c_str(), 0700) != SSH_OK
            && sftp_get_error(sftp) != SSH_FX_FILE_ALREADY_EXISTS)
            fail("cannot make", dir);
    }
    char* abs = sftp_canonicalize_path(sftp, dir.c_str());
    const std::string remote_dir = abs ? abs : dir;
    ssh_string_free_char(abs);
    const std::string target = remote_dir + "/" + name;
    const auto size = std::filesystem::file_size(local);
    if (sftp_attributes a = sftp_stat(sftp, target.c_str())) {
        const bool same = a->size == size;
        sftp_attributes_free(a);
        if (same) {
            counters_->already_there++;
            return staged_[local] = target;
        }
    }
    // Written under a temporary name and renamed, so a file at the checksum's path is whole.
    const std::string part = target + ".part";
    sftp_file f = sftp_open(sftp, part.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0700);
    if (!f)
        fail("cannot write", part);
    std::ifstream in(local, std::ios::binary);
    std::vector<char> buf(200 * 1024);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        const auto n = static_cast<std::size_t>(in.gcount());
        if (n > 0 && sftp_write(f, buf.data(), n) != static_cast<ssize_t>(n)) {
            sftp_close(f);
            fail("cannot write", part);
        }
    }
    sftp_close(f);
    sftp_unlink(sftp, target.c_str()); // a stale file of another size
    if (sftp_rename(sftp, part.c_str(), target.c_str()) != SSH_OK)
        fail("cannot rename into place", target);
    counters_->uploaded++;
    counters_->bytes += size;
    return staged_[local] = target;
}

std::string SshSession::stage(const std::string& local)
{
    if (!pump_.joinable())
        return upload(local);
    std::promise<std::string> done;
    auto result = done.get_future();
    post([this, &local, &done] {
        ssh_set_blocking(s_, 1);
        try {
            done.set_value(upload(local));
        } catch (...) {
            done.set_exception(std::current_exception());
        }
        ssh_set_blocking(s_, 0);
    });
    return result.get();
}

} // namespace weft::detail
