#pragma once
#include "high/b.hpp"  // upward: a violation
