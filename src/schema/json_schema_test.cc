#include "schema/json_schema.h"

#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace apisix::schema {
namespace {

namespace json = boost::json;

constexpr std::string_view kValid = "<valid>";

json::value parse(std::string_view text) { return json::parse(text); }

std::shared_ptr<const Schema> compiled(std::string_view schema) {
  auto result = Schema::compile(parse(schema));
  EXPECT_TRUE(result.ok()) << schema << ": " << result.error().context;
  return result.ok() ? *result : nullptr;
}

// check()'s verdict on `value`, kValid when it passes.
std::string verdict(std::string_view schema, std::string_view value) {
  auto s = compiled(schema);
  if (!s) {
    return "<schema did not compile>";
  }
  return s->check(parse(value)).value_or(std::string(kValid));
}

// The value after validate(), or the message.
std::string filled(std::string_view schema, std::string_view value) {
  auto s = compiled(schema);
  if (!s) {
    return "<schema did not compile>";
  }
  json::value v = parse(value);
  if (auto m = s->validate(v)) {
    return *m;
  }
  return json::serialize(v);
}

// The compile error for a bad schema document.
std::string compile_error(std::string_view schema, std::string_view pointer = "") {
  auto result = Schema::compile(parse(schema), pointer);
  if (result.ok()) {
    return "<compiled>";
  }
  EXPECT_EQ(result.error().source, ErrorSource::Config);
  return result.error().context;
}

// --- type -------------------------------------------------------------------------------

TEST(JsonSchemaType, EachTypeAcceptsItsValues) {
  EXPECT_EQ(verdict(R"({"type":"string"})", R"("a")"), kValid);
  EXPECT_EQ(verdict(R"({"type":"number"})", "1.5"), kValid);
  EXPECT_EQ(verdict(R"({"type":"number"})", "-3"), kValid);
  EXPECT_EQ(verdict(R"({"type":"integer"})", "7"), kValid);
  EXPECT_EQ(verdict(R"({"type":"boolean"})", "false"), kValid);
  EXPECT_EQ(verdict(R"({"type":"object"})", R"({"a":1})"), kValid);
  EXPECT_EQ(verdict(R"({"type":"array"})", "[1]"), kValid);
  EXPECT_EQ(verdict(R"({"type":"null"})", "null"), kValid);
}

// Lua names the decoded types: tables for objects and arrays, userdata for cjson's null.
TEST(JsonSchemaType, WrongTypeNamesTheLuaType) {
  EXPECT_EQ(verdict(R"({"type":"string"})", "7"), "wrong type: expected string, got number");
  EXPECT_EQ(verdict(R"({"type":"string"})", "{}"), "wrong type: expected string, got table");
  EXPECT_EQ(verdict(R"({"type":"object"})", "[1]"), "wrong type: expected object, got table");
  EXPECT_EQ(verdict(R"({"type":"array"})", R"("x")"), "wrong type: expected array, got string");
  EXPECT_EQ(verdict(R"({"type":"boolean"})", "null"), "wrong type: expected boolean, got userdata");
  EXPECT_EQ(verdict(R"({"type":"number"})", "true"), "wrong type: expected number, got boolean");
  EXPECT_EQ(verdict(R"({"type":"object"})", "[]"), "wrong type: expected object, got table");
}

// core.md §4.17: integer means a number without a fractional part.
TEST(JsonSchemaType, IntegerAcceptsWholeDoubles) {
  EXPECT_EQ(verdict(R"({"type":"integer"})", "1.0"), kValid);
  EXPECT_EQ(verdict(R"({"type":"integer"})", "-20.0"), kValid);
  EXPECT_EQ(verdict(R"({"type":"integer"})", "1e3"), kValid);
  EXPECT_EQ(verdict(R"({"type":"integer"})", "1.5"), "wrong type: expected integer, got number");
  EXPECT_EQ(verdict(R"({"type":"integer"})", R"("1")"), "wrong type: expected integer, got string");
  EXPECT_EQ(verdict(R"({"type":"integer"})", "18446744073709551615"), kValid);
}

TEST(JsonSchemaType, ListOfTypes) {
  const char* schema = R"({"type":["string","integer"]})";
  EXPECT_EQ(verdict(schema, R"("a")"), kValid);
  EXPECT_EQ(verdict(schema, "3"), kValid);
  EXPECT_EQ(verdict(schema, "3.5"), "wrong type: expected one of string, integer, got number");
}

TEST(JsonSchemaType, BooleanSchemas) {
  EXPECT_EQ(verdict("true", R"({"x":1})"), kValid);
  EXPECT_EQ(verdict("false", "1"), "expect false always");
  EXPECT_EQ(verdict(R"({"properties":{"a":false}})", R"({"a":1})"),
            "property \"a\" validation failed: expect false always");
  EXPECT_EQ(verdict(R"({"properties":{"a":false}})", R"({"b":1})"), kValid);
}

TEST(JsonSchemaType, UnknownAndAnnotationKeywordsAreIgnored) {
  EXPECT_EQ(verdict(R"({"type":"string","title":"t","description":"d","$comment":"c",
                        "examples":["x"],"encrypt_fields":["a"],"$schema":"x","$id":"y",
                        "x-whatever":{"type":5}})",
                    R"("s")"),
            kValid);
}

// --- objects ----------------------------------------------------------------------------

TEST(JsonSchemaObject, RequiredAndNestedChains) {
  const char* schema = R"({"type":"object","required":["a"],"properties":{
      "a":{"type":"object","properties":{"b":{"type":"array","items":{"type":"integer"}}}}}})";
  EXPECT_EQ(verdict(schema, R"({"a":{"b":[1,2]}})"), kValid);
  EXPECT_EQ(verdict(schema, "{}"), "property \"a\" is required");
  EXPECT_EQ(verdict(schema, R"({"a":{"b":[1,"x"]}})"),
            "property \"a\" validation failed: property \"b\" validation failed: failed to "
            "validate item 2: wrong type: expected integer, got string");
}

// Type first, then required (in its order), then properties in schema order.
TEST(JsonSchemaObject, OrderOfChecks) {
  const char* schema = R"({"type":"object","required":["z","y"],"properties":{
      "b":{"type":"string"},"a":{"type":"string"}},"additionalProperties":false})";
  EXPECT_EQ(verdict(schema, "[]"), "wrong type: expected object, got table");
  EXPECT_EQ(verdict(schema, R"({"a":1,"b":2})"), "property \"z\" is required");
  EXPECT_EQ(verdict(schema, R"({"y":1,"a":1,"b":2})"), "property \"z\" is required");
  EXPECT_EQ(verdict(schema, R"({"z":1,"y":1,"a":"1","b":"2"})"),
            "additional properties forbidden, found z");
  const char* open = R"({"properties":{"b":{"type":"string"},"a":{"type":"string"}}})";
  EXPECT_EQ(verdict(open, R"({"a":1,"b":2})"),
            "property \"b\" validation failed: wrong type: expected string, got number");
}

TEST(JsonSchemaObject, AdditionalProperties) {
  const char* closed = R"({"properties":{"a":{}},"additionalProperties":false})";
  EXPECT_EQ(verdict(closed, R"({"a":1})"), kValid);
  EXPECT_EQ(verdict(closed, R"({"a":1,"q":2,"r":3})"), "additional properties forbidden, found q");
  const char* typed = R"({"properties":{"a":{}},"additionalProperties":{"type":"string"}})";
  EXPECT_EQ(verdict(typed, R"({"a":1,"q":"x"})"), kValid);
  EXPECT_EQ(verdict(typed, R"({"a":1,"q":2})"),
            "failed to validate additional property q: wrong type: expected string, got number");
  EXPECT_EQ(verdict(R"({"additionalProperties":true})", R"({"q":2})"), kValid);
  // Only objects are concerned.
  EXPECT_EQ(verdict(closed, R"("text")"), kValid);
}

TEST(JsonSchemaObject, PatternProperties) {
  const char* schema = R"({"patternProperties":{"^x-":{"type":"integer"}},
                           "additionalProperties":false})";
  EXPECT_EQ(verdict(schema, R"({"x-a":1,"x-b":2})"), kValid);
  EXPECT_EQ(verdict(schema, R"({"x-a":"no"})"),
            "failed to validate x-a (matching \"^x-\"): wrong type: expected integer, got string");
  EXPECT_EQ(verdict(schema, R"({"y":1})"), "additional properties forbidden, found y");
  // The labels shape from core.md §4.1.
  const char* labels = R"({"type":"object","patternProperties":{".*":{"type":"string",
      "minLength":1,"maxLength":256,"pattern":"^\\S+$"}}})";
  EXPECT_EQ(verdict(labels, R"({"env":"prod"})"), kValid);
  EXPECT_EQ(verdict(labels, R"({"env":["a"]})"),
            "failed to validate env (matching \".*\"): wrong type: expected string, got table");
  EXPECT_EQ(verdict(labels, R"({"env":"a b"})"),
            "failed to validate env (matching \".*\"): failed to match pattern \"^\\\\S+$\" "
            "with \"a b\"");
}

TEST(JsonSchemaObject, MinAndMaxProperties) {
  const char* schema = R"({"minProperties":1,"maxProperties":2})";
  EXPECT_EQ(verdict(schema, R"({"a":1})"), kValid);
  EXPECT_EQ(verdict(schema, "{}"), "expect object to have at least 1 properties");
  EXPECT_EQ(verdict(schema, R"({"a":1,"b":2,"c":3})"),
            "expect object to have at most 2 properties");
}

TEST(JsonSchemaObject, DependenciesListForm) {
  const char* schema = R"({"dependencies":{"limit":["time_window"]}})";
  EXPECT_EQ(verdict(schema, R"({"limit":1,"time_window":2})"), kValid);
  EXPECT_EQ(verdict(schema, R"({"time_window":2})"), kValid);
  EXPECT_EQ(verdict(schema, R"({"limit":1})"),
            "property \"time_window\" is required when \"limit\" is set");
}

TEST(JsonSchemaObject, DependenciesSchemaForm) {
  const char* schema = R"({"properties":{"client_cert":{},"client_key":{}},
      "dependencies":{"client_cert":{"required":["client_key"]},
                      "client_key":{"required":["client_cert"]}}})";
  EXPECT_EQ(verdict(schema, R"({"client_cert":"a","client_key":"b"})"), kValid);
  EXPECT_EQ(verdict(schema, R"({"client_cert":"a"})"),
            "failed to validate dependent schema for \"client_cert\": property \"client_key\" "
            "is required");
  EXPECT_EQ(verdict(R"({"dependencies":{"a":{"not":{"required":["b"]}}}})", R"({"a":1,"b":2})"),
            "failed to validate dependent schema for \"a\": value wasn't supposed to match "
            "schema");
}

// The Lua library reads "required": [] as "must be an empty table".
TEST(JsonSchemaObject, EmptyRequiredMeansEmpty) {
  EXPECT_EQ(verdict(R"({"required":[]})", "{}"), kValid);
  EXPECT_EQ(verdict(R"({"required":[]})", "[]"), kValid);
  EXPECT_EQ(verdict(R"({"required":[]})", R"({"a":1})"), "the input data should be an empty table");
}

// --- defaults ---------------------------------------------------------------------------

TEST(JsonSchemaDefaults, FilledWhereTheParentExists) {
  const char* schema = R"({"type":"object","properties":{
      "retries":{"type":"integer","default":1},
      "pass_host":{"type":"string","default":"pass"},
      "tags":{"type":"array","default":["a"]},
      "keepalive_pool":{"type":"object","properties":{
          "size":{"type":"integer","default":320},
          "idle_timeout":{"type":"number","default":60}}},
      "none":{"default":null}}})";
  EXPECT_EQ(filled(schema, "{}"), R"({"retries":1,"pass_host":"pass","tags":["a"]})");
  EXPECT_EQ(filled(schema, R"({"keepalive_pool":{"size":5}})"),
            R"({"keepalive_pool":{"size":5,"idle_timeout":60},"retries":1,"pass_host":"pass",)"
            R"("tags":["a"]})");
  EXPECT_EQ(filled(schema, R"({"retries":0,"pass_host":"node","tags":[]})"),
            R"({"retries":0,"pass_host":"node","tags":[]})");
}

TEST(JsonSchemaDefaults, CheckNeverWrites) {
  auto s = compiled(R"({"properties":{"a":{"default":1}}})");
  const json::value v = parse("{}");
  EXPECT_EQ(s->check(v), std::nullopt);
  EXPECT_EQ(json::serialize(v), "{}");
}

TEST(JsonSchemaDefaults, RequiredWinsOverDefault) {
  EXPECT_EQ(filled(R"({"required":["a"],"properties":{"a":{"default":1}}})", "{}"),
            "property \"a\" is required");
}

TEST(JsonSchemaDefaults, InsideArrayItemsAndAllOf) {
  const char* nodes = R"({"type":"array","items":{"type":"object","properties":{
      "host":{"type":"string"},"priority":{"type":"integer","default":0}}}})";
  EXPECT_EQ(filled(nodes, R"([{"host":"a"},{"host":"b","priority":3}])"),
            R"([{"host":"a","priority":0},{"host":"b","priority":3}])");
  EXPECT_EQ(filled(R"({"allOf":[{"properties":{"a":{"default":1}}},
                                {"properties":{"b":{"default":2}}}]})",
                   "{}"),
            R"({"a":1,"b":2})");
}

// Only the branch that is finally accepted writes its defaults.
TEST(JsonSchemaDefaults, OnlyTheAcceptedBranchOfAnyOfAndOneOf) {
  const char* any = R"({"anyOf":[
      {"required":["x"],"properties":{"x":{},"from_first":{"default":1}}},
      {"required":["y"],"properties":{"y":{},"from_second":{"default":2}}}]})";
  EXPECT_EQ(filled(any, R"({"y":0})"), R"({"y":0,"from_second":2})");
  EXPECT_EQ(filled(any, R"({"x":0})"), R"({"x":0,"from_first":1})");
  const char* one = R"({"oneOf":[
      {"required":["x"],"properties":{"from_first":{"default":1}}},
      {"required":["y"],"properties":{"from_second":{"default":2}}}]})";
  EXPECT_EQ(filled(one, R"({"y":0})"), R"({"y":0,"from_second":2})");
  const char* cond = R"({"if":{"required":["tls"]},
      "then":{"properties":{"scheme":{"default":"https"}}},
      "else":{"properties":{"scheme":{"default":"http"}}}})";
  EXPECT_EQ(filled(cond, R"({"tls":true})"), R"({"tls":true,"scheme":"https"})");
  EXPECT_EQ(filled(cond, "{}"), R"({"scheme":"http"})");
}

// The default comes from the property's own schema, not from a "$ref" target.
TEST(JsonSchemaDefaults, FromThePropertySchemaBeforeRef) {
  const char* schema = R"({"definitions":{"port":{"type":"integer","default":80}},
      "properties":{"a":{"$ref":"#/definitions/port"},"b":{"$ref":"#/definitions/port",
      "default":443}}})";
  EXPECT_EQ(filled(schema, "{}"), R"({"b":443})");
}

TEST(JsonSchemaDefaults, MaxPropertiesCountsDefaultsInBothModes) {
  const char* schema = R"({"maxProperties":1,"properties":{"a":{"default":1}}})";
  EXPECT_EQ(verdict(schema, R"({"b":1})"), "expect object to have at most 1 properties");
  EXPECT_EQ(filled(schema, R"({"b":1})"), "expect object to have at most 1 properties");
  EXPECT_EQ(filled(schema, "{}"), R"({"a":1})");
}

// --- strings ----------------------------------------------------------------------------

TEST(JsonSchemaString, LengthCountsCodePoints) {
  const char* schema = R"({"type":"string","minLength":2,"maxLength":3})";
  EXPECT_EQ(verdict(schema, R"("ab")"), kValid);
  EXPECT_EQ(verdict(schema, R"("日本語")"), kValid);  // 9 bytes, 3 code points
  EXPECT_EQ(verdict(schema, R"("é")"), "string too short, expected at least 2, got 1");
  EXPECT_EQ(verdict(schema, R"("日本語ok")"), "string too long, expected at most 3, got 5");
  EXPECT_EQ(verdict(schema, R"("🙂🙂🙂🙂")"), "string too long, expected at most 3, got 4");
}

TEST(JsonSchemaString, LengthOfBrokenUtf8CountsStrayBytes) {
  auto s = compiled(R"({"maxLength":1})");
  // A lone continuation byte and a truncated sequence each count per byte.
  EXPECT_EQ(s->check(json::value(std::string("\x80\x80"))),
            "string too long, expected at most 1, got 2");
  EXPECT_EQ(s->check(json::value(std::string("\xE6\x97"))),
            "string too long, expected at most 1, got 2");
  EXPECT_EQ(s->check(json::value(std::string("\xE6\x97\xA5"))), std::nullopt);
}

TEST(JsonSchemaString, PatternIsUnanchoredUnlessAnchored) {
  EXPECT_EQ(verdict(R"({"pattern":"b"})", R"("abc")"), kValid);
  EXPECT_EQ(verdict(R"({"pattern":"^b"})", R"("abc")"),
            "failed to match pattern \"^b\" with \"abc\"");
  EXPECT_EQ(verdict(R"({"pattern":"^[a-zA-Z0-9-_.]+$"})", R"("a b")"),
            "failed to match pattern \"^[a-zA-Z0-9-_.]+$\" with \"a b\"");
  // Only strings are concerned.
  EXPECT_EQ(verdict(R"({"pattern":"^b"})", "12"), kValid);
}

// Pattern and value are printed with Lua's %q: quotes and backslashes escaped.
TEST(JsonSchemaString, PatternMessageQuotesLikeLua) {
  EXPECT_EQ(verdict(R"({"pattern":"^\\$.*"})", R"("department")"),
            R"(failed to match pattern "^\\$.*" with "department")");
  EXPECT_EQ(verdict(R"({"pattern":"^x"})", R"("say \"hi\"\n\\")"),
            "failed to match pattern \"^x\" with \"say \\\"hi\\\"\\\n\\\\\"");
  EXPECT_EQ(verdict(R"({"pattern":"^x"})", R"("a\tb\u00011")"),
            "failed to match pattern \"^x\" with \"a\\9b\\0011\"");
}

TEST(JsonSchemaString, PatternWithNulAndBytes) {
  auto s = compiled(R"({"pattern":"^a.c$"})");
  EXPECT_EQ(s->check(json::value(std::string("a\0c", 3))), std::nullopt);
  EXPECT_EQ(s->check(json::value(std::string("a\xC3\xA9"
                                             "c"))),
            "failed to match pattern \"^a.c$\" with \"a\xC3\xA9"
            "c\"");
}

TEST(JsonSchemaString, Formats) {
  EXPECT_EQ(verdict(R"({"format":"ipv4"})", R"("10.0.0.1")"), kValid);
  EXPECT_EQ(verdict(R"({"format":"ipv4"})", R"("10.0.0.256")"),
            "expect valid ipv4 format but got: 10.0.0.256");
  EXPECT_EQ(verdict(R"({"format":"ipv6"})", R"("::1")"), kValid);
  EXPECT_EQ(verdict(R"({"format":"ipv6"})", R"("fe80::1::2")"),
            "expect valid ipv6 format but got: fe80::1::2");
  EXPECT_EQ(verdict(R"({"format":"ipv4"})", "5"), kValid);
  EXPECT_EQ(verdict(R"({"format":"email"})", R"("not checked")"), kValid);
}

// --- numbers ----------------------------------------------------------------------------

TEST(JsonSchemaNumber, Bounds) {
  const char* schema = R"({"type":"number","minimum":0,"maximum":65535})";
  EXPECT_EQ(verdict(schema, "0"), kValid);
  EXPECT_EQ(verdict(schema, "65535"), kValid);
  EXPECT_EQ(verdict(schema, "-1"), "expected -1 to be at least 0");
  EXPECT_EQ(verdict(schema, "70000"), "expected 70000 to be at most 65535");
  EXPECT_EQ(verdict(schema, "-0.5"), "expected -0.5 to be at least 0");
  EXPECT_EQ(verdict(R"({"minimum":1.5})", "1.25"), "expected 1.25 to be at least 1.5");
  EXPECT_EQ(verdict(R"({"maximum":1e20})", "1e21"), "expected 1e+21 to be at most 1e+20");
}

TEST(JsonSchemaNumber, ExclusiveBoundsNumericForm) {
  EXPECT_EQ(verdict(R"({"exclusiveMinimum":0})", "0.001"), kValid);
  EXPECT_EQ(verdict(R"({"exclusiveMinimum":0})", "0"), "expected 0 to be greater than 0");
  EXPECT_EQ(verdict(R"({"exclusiveMaximum":10})", "10"), "expected 10 to be smaller than 10");
  EXPECT_EQ(verdict(R"({"exclusiveMaximum":10})", "9.5"), kValid);
}

TEST(JsonSchemaNumber, ExclusiveBoundsDraft4Form) {
  EXPECT_EQ(verdict(R"({"minimum":0,"exclusiveMinimum":true})", "0"),
            "expected 0 to be greater than 0");
  EXPECT_EQ(verdict(R"({"minimum":0,"exclusiveMinimum":false})", "0"), kValid);
  EXPECT_EQ(verdict(R"({"maximum":5,"exclusiveMaximum":true})", "5"),
            "expected 5 to be smaller than 5");
  EXPECT_EQ(verdict(R"({"maximum":5,"exclusiveMaximum":true})", "4"), kValid);
}

TEST(JsonSchemaNumber, MultipleOf) {
  EXPECT_EQ(verdict(R"({"multipleOf":0.01})", "1.13"), kValid);
  EXPECT_EQ(verdict(R"({"multipleOf":3})", "9"), kValid);
  EXPECT_EQ(verdict(R"({"multipleOf":3})", "10"), "expected 10 to be a multiple of 3");
}

TEST(JsonSchemaNumber, OnlyNumbersAreConcerned) {
  EXPECT_EQ(verdict(R"({"minimum":5})", R"("1")"), kValid);
}

// --- arrays -----------------------------------------------------------------------------

TEST(JsonSchemaArray, Sizes) {
  const char* schema = R"({"type":"array","minItems":1,"maxItems":2})";
  EXPECT_EQ(verdict(schema, "[1]"), kValid);
  EXPECT_EQ(verdict(schema, "[]"), "expect array to have at least 1 items");
  EXPECT_EQ(verdict(schema, "[1,2,3]"), "expect array to have at most 2 items");
}

TEST(JsonSchemaArray, UniqueItems) {
  const char* schema = R"({"uniqueItems":true})";
  EXPECT_EQ(verdict(schema, R"([1,"1",true,null,{"a":1},[1]])"), kValid);
  EXPECT_EQ(verdict(schema, R"(["GET","POST","GET"])"),
            "expected unique items but items 1 and 3 are equal");
  EXPECT_EQ(verdict(schema, "[2, 1, 1.0]"), "expected unique items but items 2 and 3 are equal");
  EXPECT_EQ(verdict(schema, R"([{"a":[1,2]},{"a":[1,2]}])"),
            "expected unique items but items 1 and 2 are equal");
  // Plain values are compared before objects and arrays, as the Lua library does.
  EXPECT_EQ(verdict(schema, R"([{}, {}, 5, 5])"),
            "expected unique items but items 3 and 4 are equal");
}

TEST(JsonSchemaArray, ItemsAndTuples) {
  const char* list = R"({"items":{"type":"string"}})";
  EXPECT_EQ(verdict(list, R"(["a","b"])"), kValid);
  EXPECT_EQ(verdict(list, R"(["a",2])"),
            "failed to validate item 2: wrong type: expected string, got number");
  const char* tuple = R"({"items":[{"type":"string"},{"type":"integer"}],
                          "additionalItems":false})";
  EXPECT_EQ(verdict(tuple, R"(["a",1])"), kValid);
  EXPECT_EQ(verdict(tuple, R"(["a"])"), kValid);
  EXPECT_EQ(verdict(tuple, R"(["a","b"])"),
            "failed to validate item 2: wrong type: expected integer, got string");
  EXPECT_EQ(verdict(tuple, R"(["a",1,2])"), "found unexpected extra items in array");
  const char* extra = R"({"items":[{}],"additionalItems":{"type":"integer"}})";
  EXPECT_EQ(verdict(extra, R"(["a",1,"x"])"),
            "failed to validate additional item 3: wrong type: expected integer, got string");
}

// --- enum and const ---------------------------------------------------------------------

TEST(JsonSchemaEnum, EnumAndConst) {
  const char* methods = R"({"enum":["GET","POST"]})";
  EXPECT_EQ(verdict(methods, R"("GET")"), kValid);
  EXPECT_EQ(verdict(methods, R"("get")"), "matches none of the enum values");
  EXPECT_EQ(verdict(R"({"enum":[1,0]})", "1.0"), kValid);
  EXPECT_EQ(verdict(R"({"enum":[{"a":[1]}]})", R"({"a":[1]})"), kValid);
  EXPECT_EQ(verdict(R"({"enum":[{"a":[1]}]})", R"({"a":[2]})"), "matches none of the enum values");
  EXPECT_EQ(verdict(R"({"const":"x"})", R"("x")"), kValid);
  EXPECT_EQ(verdict(R"({"const":"x"})", R"("y")"), "failed to check const value");
}

// --- combinators ------------------------------------------------------------------------

TEST(JsonSchemaCombinators, AnyOf) {
  const char* id = R"({"anyOf":[{"type":"string","minLength":1},{"type":"integer","minimum":1}]})";
  EXPECT_EQ(verdict(id, R"("r1")"), kValid);
  EXPECT_EQ(verdict(id, "5"), kValid);
  EXPECT_EQ(verdict(id, "0"), "object matches none of the required");
  const char* checks = R"({"anyOf":[{"required":["active"]},{"required":["active","passive"]}]})";
  EXPECT_EQ(verdict(checks, R"({"passive":{}})"),
            R"(object matches none of the required: ["active"] or ["active","passive"])");
  EXPECT_EQ(verdict(R"({"anyOf":[{"required":[]},{"required":["a"]}]})", R"({"b":1})"),
            R"(object matches none of the required: {} or ["a"])");
}

TEST(JsonSchemaCombinators, OneOf) {
  const char* schema = R"({"oneOf":[{"type":"integer"},{"type":"number"},{"type":"string"}]})";
  EXPECT_EQ(verdict(schema, "1.5"), kValid);
  EXPECT_EQ(verdict(schema, R"("s")"), kValid);
  EXPECT_EQ(verdict(schema, "1"),
            "value should match only one schema, but matches both schemas 1 and 2");
  EXPECT_EQ(verdict(schema, "true"), "value should match only one schema, but matches none");
}

TEST(JsonSchemaCombinators, AllOfNotIfThenElse) {
  const char* all = R"({"allOf":[{"type":"object"},{"required":["a"]}]})";
  EXPECT_EQ(verdict(all, R"({"a":1})"), kValid);
  EXPECT_EQ(verdict(all, "{}"), "allOf 2 failed: property \"a\" is required");
  EXPECT_EQ(verdict(R"({"not":{"required":["script"]}})", R"({"script":"x"})"),
            "value wasn't supposed to match schema");
  EXPECT_EQ(verdict(R"({"not":{"required":["script"]}})", "{}"), kValid);
  const char* cond = R"({"if":{"properties":{"hash_on":{"const":"header"}}},
      "then":{"properties":{"key":{"pattern":"^[a-z]+$"}}},
      "else":{"required":["key"]}})";
  EXPECT_EQ(verdict(cond, R"({"hash_on":"header","key":"abc"})"), kValid);
  EXPECT_EQ(verdict(cond, R"({"hash_on":"header","key":"A!"})"), "then clause did not match");
  EXPECT_EQ(verdict(cond, R"({"hash_on":"vars"})"), "else clause did not match");
}

// --- secret references ------------------------------------------------------------------

TEST(JsonSchemaSecrets, ReferencesSkipStringConstraints) {
  const char* key = R"({"type":"string","minLength":64,"pattern":"^-----BEGIN"})";
  EXPECT_EQ(verdict(key, R"("$secret://vault/1/key")"), kValid);
  EXPECT_EQ(verdict(key, R"("$env://TLS_KEY")"), kValid);
  EXPECT_EQ(verdict(key, R"("$ENV://TLS_KEY")"), kValid);
  EXPECT_EQ(verdict(key, R"("$Env://TLS_KEY")"), kValid);
  EXPECT_EQ(verdict(R"({"enum":["a"]})", R"("$secret://aws/1/x")"), kValid);
  EXPECT_EQ(verdict(key, R"("$secret:/x")"), "string too short, expected at least 64, got 10");
  EXPECT_EQ(verdict(key, R"("$SECRET://x")"), "string too short, expected at least 64, got 11");
}

// apisix/secret.lua: a field typed other than "string" still wants its own type.
TEST(JsonSchemaSecrets, OtherTypesStillApply) {
  EXPECT_EQ(verdict(R"({"type":"integer"})", R"("$secret://vault/1/port")"),
            "wrong type: expected integer, got string");
  EXPECT_EQ(verdict(R"({"type":["string","null"],"minLength":50})", R"("$env://X")"),
            "string too short, expected at least 50, got 8");
  EXPECT_EQ(verdict(R"({"properties":{"password":{"type":"string","minLength":20}}})",
                    R"({"password":"$env://PW"})"),
            kValid);
}

// --- $ref -------------------------------------------------------------------------------

TEST(JsonSchemaRef, Definitions) {
  const char* schema = R"({"definitions":{"id":{"anyOf":[{"type":"string"},{"type":"integer"}]},
      "a/b~c":{"type":"boolean"}},
      "properties":{"id":{"$ref":"#/definitions/id"},"f":{"$ref":"#/definitions/a~1b~0c"},
                    "g":{"$ref":"#/definitions/a%2Fb~0c"}}})";
  EXPECT_EQ(verdict(schema, R"({"id":"x","f":true,"g":false})"), kValid);
  EXPECT_EQ(verdict(schema, R"({"id":true})"),
            "property \"id\" validation failed: object matches none of the required");
  EXPECT_EQ(verdict(schema, R"({"f":1})"),
            "property \"f\" validation failed: wrong type: expected boolean, got number");
  EXPECT_EQ(verdict(schema, R"({"g":1})"),
            "property \"g\" validation failed: wrong type: expected boolean, got number");
}

TEST(JsonSchemaRef, SiblingsOfRefAreIgnored) {
  EXPECT_EQ(verdict(R"({"definitions":{"s":{"type":"string"}},
                       "properties":{"a":{"$ref":"#/definitions/s","maxLength":1}}})",
                    R"({"a":"long"})"),
            kValid);
}

TEST(JsonSchemaRef, RecursiveTree) {
  const char* schema = R"({"definitions":{"node":{"type":"object","required":["name"],
      "properties":{"name":{"type":"string"},
                    "children":{"type":"array","items":{"$ref":"#/definitions/node"}},
                    "weight":{"type":"integer","default":1}}}},
      "$ref":"#/definitions/node"})";
  EXPECT_EQ(verdict(schema, R"({"name":"a","children":[{"name":"b","children":[{"name":"c"}]}]})"),
            kValid);
  EXPECT_EQ(verdict(schema, R"({"name":"a","children":[{"name":"b","children":[{}]}]})"),
            "property \"children\" validation failed: failed to validate item 1: property "
            "\"children\" validation failed: failed to validate item 1: property \"name\" is "
            "required");
  EXPECT_EQ(filled(schema, R"({"name":"a","children":[{"name":"b"}]})"),
            R"({"name":"a","children":[{"name":"b","weight":1}],"weight":1})");
  // The whole document as the root.
  EXPECT_EQ(verdict(R"({"properties":{"next":{"$ref":"#"}},"additionalProperties":false})",
                    R"({"next":{"next":{"other":1}}})"),
            "property \"next\" validation failed: property \"next\" validation failed: "
            "additional properties forbidden, found other");
}

TEST(JsonSchemaRef, CompileAtAPointer) {
  json::value doc = parse(R"({"definitions":{"timeout":{"type":"object",
      "required":["connect","send","read"],"properties":{"connect":{"$ref":"#/definitions/pos"},
      "send":{"$ref":"#/definitions/pos"},"read":{"$ref":"#/definitions/pos"}}},
      "pos":{"type":"number","exclusiveMinimum":0}}})");
  auto s = Schema::compile(doc, "/definitions/timeout");
  ASSERT_TRUE(s.ok()) << s.error().context;
  EXPECT_EQ((*s)->check(parse(R"({"connect":1,"send":1,"read":0.5})")), std::nullopt);
  EXPECT_EQ((*s)->check(parse(R"({"connect":1,"send":0,"read":0.5})")),
            "property \"send\" validation failed: expected 0 to be greater than 0");
  auto hashed = Schema::compile(doc, "#/definitions/pos");
  ASSERT_TRUE(hashed.ok());
  EXPECT_EQ((*hashed)->check(parse("-1")), "expected -1 to be greater than 0");
}

// A schema that recurses without descending into the value cannot loop forever.
TEST(JsonSchemaRef, RecursionWithoutProgressIsBounded) {
  EXPECT_EQ(verdict(R"({"anyOf":[{"$ref":"#"}]})", "1"), "schema recursion too deep");
  EXPECT_EQ(filled(R"({"allOf":[{"$ref":"#"}]})", "{}"), "schema recursion too deep");
  EXPECT_EQ(verdict(R"({"not":{"$ref":"#"}})", "1"), "schema recursion too deep");
}

// Branches that all descend into the value make the work exponential in its depth; a
// budget stops it instead of hanging the admin thread.
TEST(JsonSchemaRef, WorkIsBounded) {
  const char* schema = R"({"definitions":{"n":{"oneOf":[
      {"properties":{"a":{"$ref":"#/definitions/n"}}},
      {"properties":{"a":{"$ref":"#/definitions/n"}},"maxProperties":0}]}},
      "$ref":"#/definitions/n"})";
  std::string value = "{}";
  for (int i = 0; i < 30; ++i) {
    value = R"({"a":)" + value + "}";
  }
  EXPECT_EQ(verdict(schema, value), "validation exceeded its work limit");
}

// --- bad schemas ------------------------------------------------------------------------

TEST(JsonSchemaCompile, BadDocumentsAreErrors) {
  EXPECT_EQ(compile_error(R"({"type":"strng"})"),
            "invalid schema at #: \"type\" must be a JSON type name or a non-empty array of "
            "them");
  EXPECT_EQ(compile_error(R"({"type":[]})"),
            "invalid schema at #: \"type\" must be a JSON type name or a non-empty array of "
            "them");
  EXPECT_EQ(compile_error(R"({"properties":{"a":{"minLength":-1}}})"),
            "invalid schema at #/properties/a: \"minLength\" must be a non-negative integer");
  EXPECT_EQ(compile_error(R"({"properties":{"a/b":{"maxItems":1.5}}})"),
            "invalid schema at #/properties/a~1b: \"maxItems\" must be a non-negative integer");
  EXPECT_EQ(compile_error(R"({"required":"a"})"),
            "invalid schema at #: \"required\" must be an array of strings");
  EXPECT_EQ(compile_error(R"({"properties":[]})"),
            "invalid schema at #: \"properties\" must be an object");
  EXPECT_EQ(compile_error(R"({"minimum":"1"})"),
            "invalid schema at #: \"minimum\" must be a number");
  EXPECT_EQ(compile_error(R"({"uniqueItems":1})"),
            "invalid schema at #: \"uniqueItems\" must be a boolean");
  EXPECT_EQ(compile_error(R"({"enum":[]})"),
            "invalid schema at #: \"enum\" must be a non-empty array");
  EXPECT_EQ(compile_error(R"({"anyOf":[]})"),
            "invalid schema at #: \"anyOf\" must be a non-empty array of schemas");
  EXPECT_EQ(compile_error(R"({"allOf":{}})"),
            "invalid schema at #: \"allOf\" must be an array of schemas");
  EXPECT_EQ(compile_error(R"({"items":5})"),
            "invalid schema at #/items: a schema must be an object or a boolean");
  EXPECT_EQ(compile_error("[1]"), "invalid schema at #: a schema must be an object or a boolean");
  EXPECT_EQ(compile_error(R"({"multipleOf":0})"),
            "invalid schema at #: \"multipleOf\" must be greater than 0");
}

TEST(JsonSchemaCompile, BadRegexIsAnError) {
  std::string e = compile_error(R"({"pattern":"a("})");
  EXPECT_EQ(e.rfind("invalid schema at #: bad regex \"a(\": ", 0), 0U) << e;
  e = compile_error(R"({"patternProperties":{"[":{}}})");
  EXPECT_EQ(e.rfind("invalid schema at #: bad regex \"[\": ", 0), 0U) << e;
}

TEST(JsonSchemaCompile, BadReferencesAreErrors) {
  EXPECT_EQ(compile_error(R"({"$ref":"#/definitions/missing"})"),
            "invalid schema at #: cannot resolve \"$ref\" \"#/definitions/missing\"");
  EXPECT_EQ(compile_error(R"({"properties":{"a":{"$ref":"other.json#/x"}}})"),
            "invalid schema at #/properties/a: cannot resolve \"$ref\" \"other.json#/x\"");
  EXPECT_EQ(compile_error(R"({"$ref":5})"), "invalid schema at #: \"$ref\" must be a string");
  EXPECT_EQ(compile_error(R"({"definitions":{"a":{"$ref":"#/definitions/b"},
                                             "b":{"$ref":"#/definitions/a"}},
                              "$ref":"#/definitions/a"})"),
            "invalid schema: \"$ref\" loop that never reaches a schema");
  EXPECT_EQ(compile_error(R"({"$ref":"#"})"),
            "invalid schema: \"$ref\" loop that never reaches a schema");
  EXPECT_EQ(compile_error(R"({"$ref":"#/definitions/x/5"})"),
            "invalid schema at #: cannot resolve \"$ref\" \"#/definitions/x/5\"");
}

TEST(JsonSchemaCompile, UnknownPointer) {
  EXPECT_EQ(compile_error(R"({"definitions":{}})", "/definitions/nope"),
            "invalid schema: no subschema at \"/definitions/nope\"");
  EXPECT_EQ(compile_error(R"({})", "definitions"),
            "invalid schema: no subschema at \"definitions\"");
}

// Broken parts that nothing references are not looked at, as in the Lua library.
TEST(JsonSchemaCompile, UnreferencedDefinitionsAreNotCompiled) {
  EXPECT_EQ(verdict(R"({"definitions":{"bad":{"type":7}},"type":"string"})", R"("x")"), kValid);
}

// --- expand_refs ------------------------------------------------------------------------

TEST(JsonSchemaExpand, ReplacesReferencesWithTargets) {
  json::value doc = parse(R"({"definitions":{"id":{"type":"string"}},
      "properties":{"id":{"$ref":"#/definitions/id"},"ids":{"type":"array",
      "items":{"$ref":"#/definitions/id"}},"enum_like":{"enum":[{"$ref":"#/not/a/schema"}]}}})");
  auto out = expand_refs(doc);
  ASSERT_TRUE(out.ok()) << out.error().context;
  EXPECT_EQ(json::serialize(*out),
            R"({"definitions":{"id":{"type":"string"}},"properties":{"id":{"type":"string"},)"
            R"("ids":{"type":"array","items":{"type":"string"}},)"
            R"("enum_like":{"enum":[{"$ref":"#/not/a/schema"}]}}})");
  auto sub = expand_refs(doc, "/properties/ids");
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(json::serialize(*sub), R"({"type":"array","items":{"type":"string"}})");
}

TEST(JsonSchemaExpand, RecursionStaysAReference) {
  json::value doc = parse(R"({"definitions":{"node":{"properties":{
      "children":{"items":{"$ref":"#/definitions/node"}}}}},
      "properties":{"root":{"$ref":"#/definitions/node"}}})");
  auto out = expand_refs(doc, "/properties/root");
  ASSERT_TRUE(out.ok()) << out.error().context;
  EXPECT_EQ(json::serialize(*out),
            R"({"properties":{"children":{"items":{"$ref":"#/definitions/node"}}}})");
}

TEST(JsonSchemaExpand, Errors) {
  auto dangling = expand_refs(parse(R"({"properties":{"a":{"$ref":"#/nope"}}})"));
  ASSERT_FALSE(dangling.ok());
  EXPECT_EQ(dangling.error().context, "invalid schema: cannot resolve \"$ref\" \"#/nope\"");
  EXPECT_FALSE(expand_refs(parse("{}"), "/x").ok());
  // References that fan out exponentially are refused instead of exhausting memory.
  std::string doc = R"({"definitions":{"d0":{"type":"string"})";
  for (int i = 1; i <= 30; ++i) {
    std::string prev = "#/definitions/d" + std::to_string(i - 1);
    doc += ",\"d" + std::to_string(i) + R"(":{"allOf":[{"$ref":")" + prev + R"("},{"$ref":")" +
           prev + R"("}]})";
  }
  doc += R"(},"$ref":"#/definitions/d30"})";
  auto huge = expand_refs(parse(doc));
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().context, "invalid schema: schema too large to expand its references");
}

// --- realistic schemas ------------------------------------------------------------------

constexpr const char* kUpstreamLike = R"({
  "definitions": {
    "host": {"type":"string","pattern":"^\\*?[0-9a-zA-Z-._\\[\\]:]+$"},
    "timeout": {"type":"object","properties":{
        "connect":{"type":"number","exclusiveMinimum":0},
        "send":{"type":"number","exclusiveMinimum":0},
        "read":{"type":"number","exclusiveMinimum":0}},
      "required":["connect","send","read"]}
  },
  "type":"object",
  "properties":{
    "type":{"type":"string","default":"roundrobin"},
    "nodes":{"anyOf":[
      {"type":"object","patternProperties":{".*":{"type":"integer","minimum":0}}},
      {"type":"array","items":{"type":"object","properties":{
          "host":{"$ref":"#/definitions/host"},
          "port":{"type":"integer","minimum":1,"maximum":65535},
          "weight":{"type":"integer","minimum":0},
          "priority":{"type":"integer","default":0},
          "metadata":{"type":"object"}},
        "required":["host","weight"]}}]},
    "retries":{"type":"integer","minimum":0},
    "timeout":{"$ref":"#/definitions/timeout"},
    "scheme":{"enum":["http","https","grpc","grpcs","tcp","tls","udp","kafka"],
              "default":"http"},
    "pass_host":{"enum":["pass","node","rewrite"],"default":"pass"},
    "keepalive_pool":{"type":"object","properties":{
        "size":{"type":"integer","minimum":1,"default":320},
        "idle_timeout":{"type":"number","minimum":0,"default":60},
        "requests":{"type":"integer","minimum":1,"default":1000}}}
  },
  "anyOf":[{"required":["nodes"]},{"required":["service_name","discovery_type"]}],
  "additionalProperties":false
})";

TEST(JsonSchemaRealistic, UpstreamNodesMapOrArray) {
  EXPECT_EQ(filled(kUpstreamLike, R"({"nodes":{"10.1.0.5:8080":2}})"),
            R"({"nodes":{"10.1.0.5:8080":2},"type":"roundrobin","scheme":"http",)"
            R"("pass_host":"pass"})");
  EXPECT_EQ(filled(kUpstreamLike, R"({"nodes":[{"host":"a.com","weight":1}],"type":"chash"})"),
            R"({"nodes":[{"host":"a.com","weight":1,"priority":0}],"type":"chash",)"
            R"("scheme":"http","pass_host":"pass"})");
  EXPECT_EQ(verdict(kUpstreamLike, R"({"nodes":[{"host":"a.com"}]})"),
            "property \"nodes\" validation failed: object matches none of the required");
  EXPECT_EQ(verdict(kUpstreamLike, R"({"nodes":{"a":-1}})"),
            "property \"nodes\" validation failed: object matches none of the required");
  EXPECT_EQ(
      verdict(kUpstreamLike, R"({"retries":1})"),
      R"(object matches none of the required: ["nodes"] or ["service_name","discovery_type"])");
  EXPECT_EQ(verdict(kUpstreamLike, R"({"nodes":{},"scheme":"ftp"})"),
            "property \"scheme\" validation failed: matches none of the enum values");
  EXPECT_EQ(verdict(kUpstreamLike, R"({"nodes":{},"foo":1})"),
            "additional properties forbidden, found foo");
  EXPECT_EQ(filled(kUpstreamLike, R"({"nodes":{},"keepalive_pool":{}})"),
            R"({"nodes":{},"keepalive_pool":{"size":320,"idle_timeout":60,"requests":1000},)"
            R"("type":"roundrobin","scheme":"http","pass_host":"pass"})");
}

TEST(JsonSchemaRealistic, TimeoutObject) {
  EXPECT_EQ(verdict(kUpstreamLike, R"({"nodes":{},"timeout":{"connect":1,"send":2,"read":3.5}})"),
            kValid);
  EXPECT_EQ(verdict(kUpstreamLike, R"({"nodes":{},"timeout":{"connect":1,"send":2}})"),
            "property \"timeout\" validation failed: property \"read\" is required");
  EXPECT_EQ(verdict(kUpstreamLike, R"({"nodes":{},"timeout":{"connect":0,"send":2,"read":3}})"),
            "property \"timeout\" validation failed: property \"connect\" validation failed: "
            "expected 0 to be greater than 0");
  EXPECT_EQ(verdict(kUpstreamLike, R"({"nodes":{},"timeout":5})"),
            "property \"timeout\" validation failed: wrong type: expected object, got number");
}

// One compiled schema, many threads: the tree and its regexes are only read.
TEST(JsonSchemaRealistic, SharedAcrossThreads) {
  auto s = compiled(kUpstreamLike);
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        json::value v = parse(R"({"nodes":[{"host":"a.com","weight":1}]})");
        json::value bad = parse(R"({"nodes":[{"host":"a b","weight":1}]})");
        if (s->validate(v) || !s->check(bad)) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace apisix::schema
