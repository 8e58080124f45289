"""`--quiz`: the student works out each step of a pass before it is shown.

    quiz = Quiz(result.steps("reverse"))
    quiz.current.prompt      # 'grad(b) = ?'
    quiz.answer(-0.99)       # Feedback(right=True, ...); on to the next step
    quiz.answer(3)           # wrong: a hint from the table's rule, one more try
    quiz.score, quiz.done

Every chain-rule step of the pass is a question (the seeds, grad(y) = 1 or
an input's tangent, are given). A wrong answer gets the step's rule as a
hint; after the last try the right value is shown and the pass goes on, since
later steps build on it. The front end (the widget) needs only `current`,
`answer()`, `hint()`, `score`, `done` and `state()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ad_magic.classroom.expect import close
from ad_magic.trace.steps import Step


@dataclass(frozen=True)
class Question:
    """One step to work out."""

    index: int  # the step's position in the pass (as in GradResult.steps())
    step: Step

    @property
    def target(self) -> str:
        """What the step computes: 'grad(b)', 'tangent(a)', or one contribution of several."""
        if self.step.mode == "forward":
            return self.step.equation.split(" = ")[0]
        target = self.step.equation.split(" += ")[0]
        if self.step.parts > 1:
            return f"contribution {self.step.part} of {self.step.parts} to {target}"
        return target

    @property
    def prompt(self) -> str:
        return f"{self.target} = ?"

    @property
    def chain(self) -> str:
        """The chain rule for this step in symbols, e.g. 'grad(b) += cos(b) * grad(y)'."""
        parts = self.step.equation.split(" = ")
        return " = ".join(parts[:2] if self.step.mode == "forward" else parts[:1])


@dataclass(frozen=True)
class Feedback:
    """What the student is told after an answer."""

    right: bool
    message: str
    hint: str = ""  # the rule to use, after a wrong answer
    answer: float | None = None  # the right value, once the question is over
    advanced: bool = False  # whether the quiz moved on to the next question


class Quiz:
    """The questions of one pass, the current one, and the score."""

    def __init__(self, steps: Iterable[Step], tol: float = 0.01, tries: int = 2) -> None:
        if not tol > 0:
            raise ValueError(f"the quiz tolerance must be positive, got {tol!r}")
        if tries < 1:
            raise ValueError(f"a question needs at least one try, got tries={tries!r}")
        self.questions = [Question(k, s) for k, s in enumerate(steps) if s.edges]
        self.tol = tol
        self.tries = tries
        self.position = 0  # index into questions
        self.tries_left = tries
        self.score = 0  # questions answered right
        self.history: list[tuple[Question, float, Feedback]] = []
        # Called with each Feedback, wherever the answer came from (the widget, code).
        self.listeners: list[Callable[[Feedback], None]] = []

    @property
    def current(self) -> Question | None:
        """The question to answer now (None when the quiz is over)."""
        return self.questions[self.position] if not self.done else None

    @property
    def done(self) -> bool:
        return self.position >= len(self.questions)

    @property
    def total(self) -> int:
        return len(self.questions)

    def hint(self) -> str:
        """The current step's rule from the primitive table, and how the chain rule uses it."""
        q = self.current
        if q is None:
            return ""
        return f"{q.step.rule}; the chain rule: {q.chain}"

    def answer(self, value: float | str) -> Feedback:
        """Mark an answer to the current question; move on when it is right or out of tries."""
        q = self.current
        if q is None:
            raise RuntimeError(f"the quiz is over: {self.score} of {self.total} right")
        try:
            given = float(value)
        except (TypeError, ValueError):
            return Feedback(False, f"{value!r} is not a number; type the value of {q.target}")
        right = close(q.step.value, given, self.tol)
        self.tries_left -= 1
        if right:
            self.score += 1
            feedback = Feedback(True, f"right: {q.target} = {q.step.value:.4g}", "",
                                q.step.value, True)  # fmt: skip
        elif self.tries_left > 0:
            tries = "try" if self.tries_left == 1 else "tries"
            feedback = Feedback(False, f"not {given:g}; {self.tries_left} more {tries}",
                                self.hint())  # fmt: skip
        else:
            feedback = Feedback(False, f"not {given:g}: {q.step.equation}", self.hint(),
                                q.step.value, True)  # fmt: skip
        self.history.append((q, given, feedback))
        if feedback.advanced:
            self.position += 1
            self.tries_left = self.tries
        for listener in self.listeners:
            listener(feedback)
        return feedback

    def moved_to(self, steps: Iterable[Step]) -> Quiz:
        """The same quiz over a new trace's steps (a live input moved): its place, score,
        tries and listeners carry over; the questions ask for the new numbers."""
        quiz = Quiz(steps, self.tol, self.tries)
        quiz.position = min(self.position, quiz.total)
        quiz.tries_left, quiz.score = self.tries_left, self.score
        quiz.history, quiz.listeners = self.history, self.listeners
        return quiz

    def state(self) -> dict[str, Any]:
        """Plain data for a front end: where the quiz is and the score."""
        q = self.current
        return {
            "done": self.done,
            "score": self.score,
            "total": self.total,
            "position": self.position,
            "step": q.index if q else None,
            "node": q.step.node if q else None,
            "prompt": q.prompt if q else "",
            "tries_left": self.tries_left,
        }

    def __repr__(self) -> str:
        return f"<Quiz {self.position} of {self.total} answered, score {self.score}>"
