#pragma once

#include <functional>

#include "common/base/result.h"

namespace mamori {

// Groups calls to the repositories of one store into one transaction.
class Transactions {
 public:
  virtual ~Transactions() = default;

  // Runs `body` in one transaction (one fsync for everything inside); calls
  // to this store made by `body` on the same thread join the transaction.
  // If `body` returns an error the transaction is rolled back.
  virtual Status WithTransaction(const std::function<Status()>& body) = 0;
};

}  // namespace mamori
