#pragma once
#include <nlohmann/json.hpp>  // not the standard library: a violation
#include <vector>
