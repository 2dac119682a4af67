#pragma once
// The rule catalogue by domain. Each rules_<domain>.cpp holds its rules whole (checks, thresholds
// with their sources, texts) and returns them here; rule_catalogue() (rules.cpp) concatenates the
// domains in a fixed order, which is the catalogue order.
#include <vector>

#include "analysis/rules.hpp"

namespace codeprof::analysis {

const std::vector<Rule>& data_loading_rules();   // rules_data_loading.cpp
const std::vector<Rule>& preprocessing_rules();  // rules_preprocessing.cpp
const std::vector<Rule>& inference_rules();      // rules_inference.cpp
const std::vector<Rule>& training_rules();       // rules_training.cpp
const std::vector<Rule>& system_rules();         // rules_system.cpp
const std::vector<Rule>& network_rules();        // rules_network.cpp
const std::vector<Rule>& custom_metrics_rules(); // rules_custom_metrics.cpp

}  // namespace codeprof::analysis
