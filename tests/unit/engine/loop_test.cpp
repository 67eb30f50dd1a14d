// Loops (DESIGN.md section 2): ForEach (sequential and parallel) and While. An iteration ends when
// its branch has nothing left to run; Done follows the last iteration; `item`/`index`/`as` are
// scoped to the iteration.
#include "engine_test_util.h"

namespace trellis::engine_test {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

size_t IterationFrames(const InstanceState& s) {
  size_t n = 0;
  for (const auto& [id, f] : s.frames) n += f.kind == Frame::Kind::kIteration ? 1 : 0;
  return n;
}

TEST(LoopTest, ForEachRunsItemsInOrderWithItemAndIndex) {
  Harness h(R"~(
id: foreach
activities:
  - {id: loop, type: ForEach, items: [apple, banana, cherry]}
  - {id: say, type: WriteLine, text: "{{ index }}:{{ item }}"}
  - {id: done, type: WriteLine, text: "done"}
connections:
  - {from: loop, outcome: Iterate, to: say}
  - {from: loop, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("0:apple", "1:banana", "2:cherry", "done"));
  ASSERT_EQ(h.Count("loop"), 1u);
  EXPECT_EQ(h.Records("loop")[0]->outcome, "Done");
  EXPECT_TRUE(h.state.frames.empty());
  EXPECT_EQ(h.state.root_live, 0);
}

TEST(LoopTest, ForEachAsNamesTheItemAndItemsMayComeFromATemplate) {
  Harness h(R"~(
id: foreach-as
inputs: {fruits: {type: array, required: true}}
activities:
  - {id: loop, type: ForEach, items: "{{ input.fruits }}", as: fruit}
  - {id: say, type: WriteLine, text: "{{ index }}={{ fruit.name }}"}
connections:
  - {from: loop, outcome: Iterate, to: say}
)~");
  ASSERT_TRUE(h.StartAndRun({{"fruits", Json::array({{{"name", "fig"}}, {{"name", "kiwi"}}})}}));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("0=fig", "1=kiwi"));
}

TEST(LoopTest, LoopVariablesAreNotVisibleAfterTheLoop) {
  Harness h(R"~(
id: scope
activities:
  - {id: loop, type: ForEach, items: [1, 2]}
  - {id: body, type: Noop}
  - {id: after, type: WriteLine, text: "{{ item == nil and index == nil }}"}
connections:
  - {from: loop, outcome: Iterate, to: body}
  - {from: loop, outcome: Done, to: after}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("true"));
}

TEST(LoopTest, SequentialForEachWaitsForASuspendedIterationBeforeTheNext) {
  Harness h(R"~(
id: foreach-suspend
activities:
  - {id: loop, type: ForEach, items: [a, b, c]}
  - {id: begin, type: WriteLine, text: "begin {{ item }}"}
  - {id: nap, type: Delay, duration: 10s}
  - {id: end, type: WriteLine, text: "end {{ item }}"}
  - {id: done, type: WriteLine, text: "done"}
connections:
  - {from: loop, outcome: Iterate, to: begin}
  - {from: begin, to: nap}
  - {from: nap, to: end}
  - {from: loop, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_THAT(h.lines, ElementsAre("begin a"));
  EXPECT_EQ(h.RunTimers(), 3);
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("begin a", "end a", "begin b", "end b", "begin c", "end c", "done"));
  EXPECT_EQ(h.clock.Now(), T0() + seconds(30));
}

TEST(LoopTest, ParallelForEachRunsAtMostNIterationsAtOnce) {
  Harness h(R"~(
id: foreach-parallel
activities:
  - {id: loop, type: ForEach, items: [5, 1, 4, 2, 3, 1, 2], parallel: 3}
  - {id: nap, type: Delay, duration: "{{ item }}s"}
  - {id: end, type: WriteLine, text: "{{ index }}"}
  - {id: done, type: WriteLine, text: "done"}
connections:
  - {from: loop, outcome: Iterate, to: nap}
  - {from: nap, to: end}
  - {from: loop, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.Start());
  size_t max_active = 0;
  int guard = 0;
  while (!IsTerminal(h.state.status) && ++guard < 1000) {
    if (h.engine->Step(*h.wf, h.state) == StepResult::kIdle) {
      auto next = Engine::NextDue(h.state);
      ASSERT_TRUE(next.has_value()) << "suspended with nothing due: " << StatusOf(h.state);
      h.clock.Set(*next);
      h.engine->FireDueTimers(*h.wf, h.state, *next);
    }
    max_active = std::max(max_active, IterationFrames(h.state));
    for (const auto& [id, f] : h.state.frames) {
      if (f.kind == Frame::Kind::kLoop) {
        EXPECT_LE(f.active, 3);
      }
    }
  }
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_EQ(max_active, 3u) << "parallel: 3 keeps three iterations going at once";
  ASSERT_EQ(h.lines.size(), 8u);
  EXPECT_EQ(h.lines.back(), "done");
  std::vector<std::string> ends(h.lines.begin(), h.lines.end() - 1);
  EXPECT_THAT(ends, UnorderedElementsAre("0", "1", "2", "3", "4", "5", "6"));
  // Items 1 (index 1) finishes first, at 1s; then index 3 (started at 1s, 2s long) and so on.
  EXPECT_EQ(ends.front(), "1");
}

TEST(LoopTest, ParallelIterationsSeeTheirOwnOutputs) {
  // Each iteration computes `label` and reads it back after a nap; with two iterations in flight
  // the other iteration's `label` must not leak in.
  Harness h(R"~(
id: foreach-outputs
activities:
  - {id: loop, type: ForEach, items: [a, b, c, d], parallel: 2}
  - {id: label, type: Transform, value: "label-{{ item }}"}
  - {id: nap, type: Delay, duration: "{{ index == 0 and 3 or 1 }}s"}
  - {id: read, type: WriteLine, text: "{{ item }} sees {{ outputs.label }}"}
connections:
  - {from: loop, outcome: Iterate, to: label}
  - {from: label, to: nap}
  - {from: nap, to: read}
)~");
  ASSERT_TRUE(h.StartAndRun());
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines,
              UnorderedElementsAre("a sees label-a", "b sees label-b", "c sees label-c", "d sees label-d"));
}

TEST(LoopTest, ParallelIterationsSeeTheirOwnItemAndIndex) {
  Harness h(R"~(
id: foreach-vars
activities:
  - {id: loop, type: ForEach, items: [x, y, z], parallel: 3, as: letter}
  - {id: nap, type: Delay, duration: "{{ 3 - index }}s"}
  - {id: read, type: WriteLine, text: "{{ index }}{{ letter }}"}
connections:
  - {from: loop, outcome: Iterate, to: nap}
  - {from: nap, to: read}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(IterationFrames(h.state), 3u);
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("2z", "1y", "0x"));
}

TEST(LoopTest, EmptyItemsTakeDoneAtOnce) {
  Harness h(R"~(
id: foreach-empty
activities:
  - {id: loop, type: ForEach, items: []}
  - {id: body, type: WriteLine, text: "never"}
  - {id: done, type: WriteLine, text: "done"}
connections:
  - {from: loop, outcome: Iterate, to: body}
  - {from: loop, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("done"));
  EXPECT_EQ(h.Count("body"), 0u);
  EXPECT_TRUE(h.state.frames.empty());
}

TEST(LoopTest, NonListItemsFaultTheLoop) {
  Harness h(R"~(
id: foreach-bad
activities:
  - {id: loop, type: ForEach, items: "{{ 'not a list' }}"}
  - {id: body, type: Noop}
connections:
  - {from: loop, outcome: Iterate, to: body}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  ASSERT_EQ(h.state.incidents.size(), 1u);
  EXPECT_EQ(h.state.incidents[0].activity_id, "loop");
  EXPECT_THAT(h.state.incidents[0].message, HasSubstr("list"));
}

TEST(LoopTest, NestedForEachRunsInnerLoopPerOuterItemWithShadowedIndex) {
  Harness h(R"~(
id: nested
activities:
  - {id: rows, type: ForEach, items: [1, 2], as: row}
  - {id: cols, type: ForEach, items: [a, b]}
  - {id: cell, type: WriteLine, text: "{{ row }}{{ item }}@{{ index }}"}
  - {id: rowDone, type: WriteLine, text: "row {{ row }} done"}
  - {id: done, type: WriteLine, text: "all done"}
connections:
  - {from: rows, outcome: Iterate, to: cols}
  - {from: cols, outcome: Iterate, to: cell}
  - {from: cols, outcome: Done, to: rowDone}
  - {from: rows, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("1a@0", "1b@1", "row 1 done", "2a@0", "2b@1", "row 2 done", "all done"));
  EXPECT_EQ(h.Count("cols"), 2u);
  EXPECT_TRUE(h.state.frames.empty());
}

TEST(LoopTest, NestedParallelLoopsWithSuspensionsFinishEveryCell) {
  Harness h(R"~(
id: nested-parallel
activities:
  - {id: rows, type: ForEach, items: [1, 2, 3], as: row, parallel: 2}
  - {id: cols, type: ForEach, items: [1, 2], as: col, parallel: 2}
  - {id: nap, type: Delay, duration: "{{ row * col }}s"}
  - {id: cell, type: WriteLine, text: "{{ row }}x{{ col }}"}
  - {id: done, type: WriteLine, text: "done"}
connections:
  - {from: rows, outcome: Iterate, to: cols}
  - {from: cols, outcome: Iterate, to: nap}
  - {from: nap, to: cell}
  - {from: rows, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(h.state.bookmarks.size(), 4u) << "two rows with two columns each";
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  ASSERT_EQ(h.lines.size(), 7u);
  EXPECT_EQ(h.lines.back(), "done");
  std::vector<std::string> cells(h.lines.begin(), h.lines.end() - 1);
  EXPECT_THAT(cells, UnorderedElementsAre("1x1", "1x2", "2x1", "2x2", "3x1", "3x2"));
}

TEST(LoopTest, WhileRunsWhileTheCounterConditionHolds) {
  Harness h(R"~(
id: while
variables: {n: 0}
activities:
  - {id: loop, type: While, condition: "vars.n < 3"}
  - {id: bump, type: SetVariable, name: n, value: "{{ vars.n + 1 }}"}
  - {id: say, type: WriteLine, text: "n={{ vars.n }} index={{ index }}"}
  - {id: done, type: WriteLine, text: "done at {{ vars.n }}"}
connections:
  - {from: loop, outcome: Iterate, to: bump}
  - {from: bump, to: say}
  - {from: loop, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("n=1 index=0", "n=2 index=1", "n=3 index=2", "done at 3"));
  EXPECT_EQ(h.state.variables["n"], 3);
}

TEST(LoopTest, WhileWithAFalseConditionTakesDoneAtOnce) {
  Harness h(R"~(
id: while-never
activities:
  - {id: loop, type: While, condition: "false"}
  - {id: body, type: WriteLine, text: "never"}
  - {id: done, type: WriteLine, text: "done"}
connections:
  - {from: loop, outcome: Iterate, to: body}
  - {from: loop, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("done"));
}

TEST(LoopTest, WhileMaxIterationsGuardFaultsTheInstance) {
  Harness h(R"~(
id: while-guard
activities:
  - {id: loop, type: While, condition: "true", maxIterations: 5}
  - {id: body, type: Noop}
  - {id: done, type: WriteLine, text: "must not run"}
connections:
  - {from: loop, outcome: Iterate, to: body}
  - {from: loop, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  EXPECT_EQ(h.Count("body"), 5u);
  EXPECT_TRUE(h.lines.empty());
  ASSERT_EQ(h.state.incidents.size(), 1u);
  EXPECT_EQ(h.state.incidents[0].activity_id, "loop");
  EXPECT_EQ(h.state.incidents[0].activity_type, "While");
  EXPECT_THAT(h.state.incidents[0].message, HasSubstr("maxIterations (5)"));
}

TEST(LoopTest, WhileMaxIterationsIsCaughtByAnErrorConnection) {
  Harness h(R"~(
id: while-guard-caught
activities:
  - {id: loop, type: While, condition: "true", maxIterations: 3}
  - {id: body, type: Noop}
  - {id: handler, type: WriteLine, text: "{{ outputs.loop.error }}"}
connections:
  - {from: loop, outcome: Iterate, to: body}
  - {from: loop, outcome: Error, to: handler}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  ASSERT_EQ(h.lines.size(), 1u);
  EXPECT_THAT(h.lines[0], HasSubstr("maxIterations (3)"));
  EXPECT_TRUE(h.state.frames.empty());
  EXPECT_EQ(h.state.root_live, 0);
}

TEST(LoopTest, WhileWithSuspendingBodyReevaluatesTheConditionAfterEachIteration) {
  Harness h(R"~(
id: while-poll
variables: {tries: 0}
activities:
  - {id: loop, type: While, condition: "vars.tries < 2"}
  - {id: nap, type: Delay, duration: 1m}
  - {id: bump, type: SetVariable, name: tries, value: "{{ vars.tries + 1 }}"}
  - {id: done, type: WriteLine, text: "tries={{ vars.tries }}"}
connections:
  - {from: loop, outcome: Iterate, to: nap}
  - {from: nap, to: bump}
  - {from: loop, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  EXPECT_EQ(h.RunTimers(), 2);
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("tries=2"));
}

TEST(LoopTest, DoneFollowsTheLastIterationEvenWhenIterationsFinishOutOfOrder) {
  Harness h(R"~(
id: done-last
activities:
  - {id: loop, type: ForEach, items: [3, 1, 2], parallel: 3}
  - {id: nap, type: Delay, duration: "{{ item }}s"}
  - {id: end, type: WriteLine, text: "{{ item }}"}
  - {id: done, type: WriteLine, text: "done"}
connections:
  - {from: loop, outcome: Iterate, to: nap}
  - {from: nap, to: end}
  - {from: loop, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(h.Count("loop"), 0u) << "the loop is not done while iterations run";
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("1", "2", "3", "done"));
  // The loop's journal record (Done) comes after the last iteration's records.
  int loop_pos = h.Position("loop");
  ASSERT_GE(loop_pos, 0);
  int last_end = -1;
  for (size_t i = 0; i < h.state.journal.size(); ++i) {
    if (h.state.journal[i].activity_id == "end") last_end = static_cast<int>(i);
  }
  EXPECT_GT(loop_pos, last_end);
  EXPECT_EQ(h.Records("loop")[0]->outcome, "Done");
}

TEST(LoopTest, IterationEndsWhenItsBranchEndsEvenWithSeveralActivities) {
  // The Iterate branch forks into two activities; the iteration ends only when both are done.
  Harness h(R"~(
id: fork-in-loop
activities:
  - {id: loop, type: ForEach, items: [1, 2]}
  - {id: split, type: Noop}
  - {id: quick, type: WriteLine, text: "quick {{ item }}"}
  - {id: nap, type: Delay, duration: 5s}
  - {id: slow, type: WriteLine, text: "slow {{ item }}"}
  - {id: done, type: WriteLine, text: "done"}
connections:
  - {from: loop, outcome: Iterate, to: split}
  - {from: split, to: quick}
  - {from: split, to: nap}
  - {from: nap, to: slow}
  - {from: loop, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_THAT(h.lines, ElementsAre("quick 1"));
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("quick 1", "slow 1", "quick 2", "slow 2", "done"));
}

TEST(LoopTest, FinishInsideAParallelIterationStopsTheWholeLoop) {
  Harness h(R"~(
id: find-first
activities:
  - {id: loop, type: ForEach, items: [1, 2, 3], parallel: 3}
  - {id: check, type: If, condition: "item == 2"}
  - {id: found, type: Finish, output: {found: "{{ item }}"}}
  - {id: slow, type: Delay, duration: 1h}
  - {id: done, type: WriteLine, text: "not found"}
connections:
  - {from: loop, outcome: Iterate, to: check}
  - {from: check, outcome: "True", to: found}
  - {from: check, outcome: "False", to: slow}
  - {from: loop, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_EQ(h.state.output, (Json{{"found", 2}}));
  EXPECT_TRUE(h.state.bookmarks.empty());
  EXPECT_TRUE(h.state.frames.empty());
  EXPECT_TRUE(h.lines.empty());
}

}  // namespace
}  // namespace trellis::engine_test
