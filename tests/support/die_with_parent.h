// A Boost.Process handler for every child a test starts: the kernel kills
// the child when the test process dies (PR_SET_PDEATHSIG), so a crashed or
// killed test leaves no daemons behind.
#pragma once

#include <signal.h>
#include <sys/prctl.h>

#include <boost/process/extend.hpp>

namespace domian::testing {

struct DieWithParent : boost::process::extend::handler {
  template <typename Executor>
  void on_exec_setup(Executor& /*executor*/) const {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  }
};

}  // namespace domian::testing
