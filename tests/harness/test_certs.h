#pragma once

// Throw-away X.509 certificates for TLS tests, made at run time with OpenSSL (EC P-256 keys,
// SHA-256 signatures, valid from an hour ago for two days), so no key material lives in the
// repository and nothing expires. Plain value types; any thread.

#include <filesystem>
#include <string>
#include <vector>

namespace apisix::test {

// One certificate and its private key, as PEM text and (when written) as files.
struct TestCert {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8 "BEGIN PRIVATE KEY"
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
};

struct CertRequest {
  std::string common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries
  bool is_ca = false;
  bool server_auth = false;  // extendedKeyUsage serverAuth
  bool client_auth = false;  // extendedKeyUsage clientAuth
};

// A certificate for `request`, signed by `issuer` (self-signed when null). PEM only.
// Throws std::runtime_error when OpenSSL fails.
TestCert make_cert(const CertRequest& request, const TestCert* issuer = nullptr);

// Writes <dir>/<name>.crt and <dir>/<name>.key and records the paths in `cert`.
void write_cert_files(TestCert& cert, const std::filesystem::path& dir, const std::string& name);

// The usual cast of a TLS test.
struct TestCerts {
  TestCert ca;         // "apisix test CA": issued `server`
  TestCert server;     // CN=localhost; SAN DNS:localhost, IP:127.0.0.1, IP:::1; serverAuth
  TestCert client_ca;  // "apisix test client CA": issued `client`
  TestCert client;     // CN=apisix-test-client; clientAuth
  TestCert other_ca;   // a CA that issued nothing here: trusting it alone must fail
};

// Makes a fresh set and writes every file into `dir` (ca.crt, ca.key, server.crt, ...).
TestCerts make_test_certs(const std::filesystem::path& dir);

}  // namespace apisix::test
