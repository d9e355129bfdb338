#include <jobs/keys.hpp>
#include <jobs/schema.hpp>

namespace jobs {

namespace {

using Json = nlohmann::ordered_json;

Json object_of(const std::vector<KeySpec>& keys, const std::vector<KeySpec>* more = nullptr);

// The two ways to write a duration: integer seconds from `minimum`, or units ("1h30m").
Json duration_schemas(int minimum) {
  return Json::array({Json{{"type", "integer"}, {"minimum", minimum}},
                      Json{{"type", "string"},
                           {"pattern", "^[0-9]+$|^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"}}});
}

Json value_schema(const KeySpec& key) {
  Json s;
  switch (key.type) {
  case ValueType::string:
    s = {{"type", "string"}};
    if (!key.choices.empty()) {
      s["enum"] = key.choices;
    }
    break;
  case ValueType::boolean:
    s = {{"type", "boolean"}};
    break;
  case ValueType::integer:
    s = {{"type", "integer"}, {"minimum", key.min}, {"maximum", key.max}};
    break;
  case ValueType::number:
    s = {{"type", "number"}};
    break;
  case ValueType::duration:
    s = {{"oneOf", duration_schemas(0)}};
    break;
  case ValueType::timeout: {
    Json ways = duration_schemas(1);
    ways.push_back({{"const", "none"}});
    s = {{"oneOf", ways}};
    break;
  }
  case ValueType::size:
    s = {{"oneOf",
          {{{"type", "integer"}, {"minimum", 0}},
           {{"type", "string"}, {"pattern", "^[0-9]+([KkMmGgTt][Bb]?|[Bb])?$"}}}}};
    break;
  case ValueType::string_list:
    s = {{"oneOf", {{{"type", "string"}}, {{"type", "array"}, {"items", {{"type", "string"}}}}}}};
    break;
  case ValueType::string_map:
    s = {{"type", "object"},
         {"additionalProperties", {{"type", {"string", "number", "boolean", "null"}}}}};
    break;
  case ValueType::map:
    if (key.name == "retries") {
      s = object_of(retries_keys());
    } else if (key.name == "limits") {
      s = object_of(limits_keys());
    } else if (key.name == "notify") {
      s = object_of(notify_keys());
    } else {
      s = {{"type", "object"}};
    }
    break;
  case ValueType::list:
    if (key.name == "steps") {
      Json types = Json::array();
      for (const auto& t : step_types()) {
        types.push_back(step_schema(t));
      }
      s = {{"type", "array"}, {"minItems", 1}, {"items", {{"oneOf", types}}}};
    } else { // notification lists
      s = {{"type", "array"},
           {"items",
            {{"oneOf",
              {{{"type", "object"},
                {"properties", {{"email", {{"type", "string"}}}}},
                {"required", {"email"}},
                {"additionalProperties", false}},
               {{"type", "object"},
                {"properties", {{"webhook", {{"type", "string"}}}}},
                {"required", {"webhook"}},
                {"additionalProperties", false}}}}}}};
    }
    break;
  case ValueType::schedule:
    s = {{"oneOf",
          {{{"type", "string"}},
           {{"type", "array"}, {"items", {{"type", "string"}}}},
           object_of(schedule_keys())}}};
    break;
  case ValueType::any:
    s = Json::object();
    break;
  }
  s["description"] = key.description;
  return s;
}

Json object_of(const std::vector<KeySpec>& keys, const std::vector<KeySpec>* more) {
  Json properties = Json::object();
  Json required = Json::array();
  for (const auto* list : {&keys, more}) {
    if (list == nullptr) {
      continue;
    }
    for (const auto& k : *list) {
      properties[std::string(k.name)] = value_schema(k);
      if (k.required) {
        required.push_back(k.name);
      }
    }
  }
  Json s = {{"type", "object"},
            {"properties", properties},
            {"patternProperties", {{"^x-", Json::object()}}},
            {"additionalProperties", false}};
  if (!required.empty()) {
    s["required"] = required;
  }
  return s;
}

} // namespace

Json step_schema(const StepType& type) {
  Json s = object_of(step_common_keys(), &type.keys);
  s["title"] = std::string(type.name) + " step";
  s["description"] = type.description;
  s["properties"]["type"] = {{"const", type.name}, {"description", "The step type"}};
  return s;
}

Json job_schema() {
  Json s = {{"$schema", "https://json-schema.org/draft/2020-12/schema"},
            {"title", "jobs: job file"},
            {"description", "One job of a jobs folder; see jobs(5)"}};
  s.update(object_of(job_keys()));
  // Either steps or the single-step command.
  s["oneOf"] = {{{"required", {"steps"}}}, {{"required", {"command"}}}};
  return s;
}

} // namespace jobs
