// Work on independent items side by side: a few threads (lanes), each taking the next item until
// none is left. For passes that mostly wait on Podman (a reconcile of many apps, the stops of an
// idle scan), so that their time is about one item's per lane rather than one per item.
#pragma once

#include <cstddef>
#include <functional>

namespace agent {

// Runs work(i) for every i in [0, count) on up to `lanes` threads, this one included, and returns
// once all have run. work returns false to have the items not yet taken skipped. work must not
// throw.
void run_in_lanes(size_t count, size_t lanes, const std::function<bool(size_t)>& work);

}  // namespace agent
