#pragma once
// Everything an instrumented program needs. Standard library only.
#include "codeprof/category.hpp"
#include "codeprof/config.hpp"
#include "codeprof/findings.hpp"
#include "codeprof/macros.hpp"
#include "codeprof/profiler.hpp"
#include "codeprof/snapshot.hpp"
#include "codeprof/version.hpp"
