#include "tests/harness/test_certs.h"

#include <fstream>
#include <memory>
#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace apisix::test {
namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

[[noreturn]] void fail(const std::string& what) {
  char reason[256] = "";
  unsigned long code = ERR_get_error();
  if (code != 0) {
    ERR_error_string_n(code, reason, sizeof(reason));
  }
  ERR_clear_error();
  throw std::runtime_error("test certificate: " + what + (code != 0 ? ": " : "") + reason);
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

BioPtr memory_bio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) {
    fail("extension " + value);
  }
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

std::string join(const std::vector<std::string>& parts, const char* prefix) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) {
      out += ',';
    }
    out += prefix;
    out += part;
  }
  return out;
}

}  // namespace

TestCert make_cert(const CertRequest& request, const TestCert* issuer) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) {
    fail("key generation");
  }
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);  // v3
  BnPtr serial(BN_new());
  BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 2L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());

  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("apisix-cpp tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(request.common_name.c_str()),
                             -1, -1, 0);

  X509Ptr issuer_cert;
  PkeyPtr issuer_key;
  if (issuer != nullptr) {
    BioPtr cert_bio = memory_bio(issuer->cert_pem);
    issuer_cert.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    BioPtr key_bio = memory_bio(issuer->key_pem);
    issuer_key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!issuer_cert || !issuer_key) {
      fail("reading the issuer");
    }
    X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert.get()));
  } else {
    X509_set_issuer_name(cert.get(), subject);
  }
  X509* signer_cert = issuer_cert ? issuer_cert.get() : cert.get();
  EVP_PKEY* signer_key = issuer_key ? issuer_key.get() : key.get();

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, signer_cert, cert.get(), nullptr, nullptr, 0);
  if (request.is_ca) {
    add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyAgreement");
  }
  std::string usage;
  if (request.server_auth) {
    usage = "serverAuth";
  }
  if (request.client_auth) {
    usage += usage.empty() ? "clientAuth" : ",clientAuth";
  }
  if (!usage.empty()) {
    add_extension(cert.get(), &ctx, NID_ext_key_usage, usage);
  }
  std::string san = join(request.dns_names, "DNS:");
  std::string ips = join(request.ip_addresses, "IP:");
  if (!ips.empty()) {
    san += san.empty() ? ips : "," + ips;
  }
  if (!san.empty()) {
    add_extension(cert.get(), &ctx, NID_subject_alt_name, san);
  }
  add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) {
    add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  }
  if (X509_sign(cert.get(), signer_key, EVP_sha256()) == 0) {
    fail("signing");
  }

  TestCert out;
  BioPtr cert_out(BIO_new(BIO_s_mem()));
  BioPtr key_out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(cert_out.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    fail("writing PEM");
  }
  out.cert_pem = bio_text(cert_out.get());
  out.key_pem = bio_text(key_out.get());
  return out;
}

void write_cert_files(TestCert& cert, const std::filesystem::path& dir, const std::string& name) {
  auto write = [](const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) {
      throw std::runtime_error("test certificate: cannot write " + path.string());
    }
  };
  cert.cert_file = dir / (name + ".crt");
  cert.key_file = dir / (name + ".key");
  write(cert.cert_file, cert.cert_pem);
  write(cert.key_file, cert.key_pem);
  std::filesystem::permissions(
      cert.key_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TestCerts make_test_certs(const std::filesystem::path& dir) {
  TestCerts certs;
  CertRequest ca;
  ca.common_name = "apisix test CA";
  ca.is_ca = true;
  certs.ca = make_cert(ca);
  CertRequest server;
  server.common_name = "localhost";
  server.dns_names = {"localhost"};
  server.ip_addresses = {"127.0.0.1", "::1"};
  server.server_auth = true;
  certs.server = make_cert(server, &certs.ca);
  CertRequest client_ca;
  client_ca.common_name = "apisix test client CA";
  client_ca.is_ca = true;
  certs.client_ca = make_cert(client_ca);
  CertRequest client;
  client.common_name = "apisix-test-client";
  client.client_auth = true;
  certs.client = make_cert(client, &certs.client_ca);
  CertRequest other_ca;
  other_ca.common_name = "apisix unrelated CA";
  other_ca.is_ca = true;
  certs.other_ca = make_cert(other_ca);
  std::filesystem::create_directories(dir);
  write_cert_files(certs.ca, dir, "ca");
  write_cert_files(certs.server, dir, "server");
  write_cert_files(certs.client_ca, dir, "client_ca");
  write_cert_files(certs.client, dir, "client");
  write_cert_files(certs.other_ca, dir, "other_ca");
  return certs;
}

}  // namespace apisix::test
