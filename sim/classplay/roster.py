"""Who plays whom: students, their secret tokens, and the actors they govern.

Not thread-safe on its own: `ClassRoom` calls it under the class's lock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sim.classplay.actors import Actor

MAX_NAME = 40  # characters of a student's name shown on the page


@dataclass
class Student:
    """One student: a public id the teacher sees (`s7`), a secret token their browser keeps (rejoin)."""

    id: str
    token: str
    name: str
    actor: Actor
    joined_at: float
    active: bool = True  # False once kicked: the token no longer works


class RosterError(ValueError):
    """A roster request that cannot be met (the message is for the page, in plain words)."""


class Roster:
    """The class's students and the actors they play; one student per actor."""

    def __init__(self, actors: list[Actor], max_students: int) -> None:
        self.actors = actors
        self.by_id = {a.id: a for a in actors}
        self.max_students = max_students
        self.students: dict[str, Student] = {}  # student id -> student (kicked ones stay, inactive)
        self._by_token: dict[str, Student] = {}

    def active(self) -> list[Student]:
        """Students in the class now, in the order they joined."""
        return [s for s in self.students.values() if s.active]

    def taken(self) -> set[str]:
        return {s.actor.id for s in self.active()}

    def free_actors(self) -> list[Actor]:
        taken = self.taken()
        return [a for a in self.actors if a.id not in taken]

    def join(self, name: str, wanted: str | None, now: float) -> Student:
        """A new student: `wanted` when it is free, else the next free actor."""
        clean = " ".join(str(name).split())[:MAX_NAME]
        if not clean:
            raise RosterError("give your name to join")
        if len(self.active()) >= self.max_students:
            raise RosterError(f"the class is full ({self.max_students} students)")
        if wanted is not None and wanted not in self.by_id:
            raise RosterError(f"unknown actor {wanted!r}; choose one of the free ones")
        free = self.free_actors()
        if not free:
            raise RosterError("every country and lab is taken")
        actor = self.by_id[wanted] if wanted is not None and wanted not in self.taken() else free[0]
        student = Student(f"s{len(self.students) + 1}", secrets.token_urlsafe(16), clean, actor, now)
        self.students[student.id] = student
        self._by_token[student.token] = student
        return student

    def by_token(self, token: str) -> Student:
        """The student whose browser holds `token` (a rejoin gives the same actor)."""
        student = self._by_token.get(token)
        if student is None:
            raise RosterError("this link is not a student of the class; join again")
        if not student.active:
            raise RosterError("the teacher removed you from the class")
        return student

    def student(self, student_id: str) -> Student:
        student = self.students.get(student_id)
        if student is None or not student.active:
            raise RosterError(f"no student {student_id!r} in the class")
        return student

    def kick(self, student_id: str) -> Student:
        """Remove a student; their actor becomes free (their decisions so far stay)."""
        student = self.student(student_id)
        student.active = False
        return student

    def reassign(self, student_id: str, actor_id: str) -> Student:
        """Give a student another actor, which must be free."""
        student = self.student(student_id)
        if actor_id not in self.by_id:
            raise RosterError(f"unknown actor {actor_id!r}")
        if actor_id in self.taken() and student.actor.id != actor_id:
            raise RosterError(f"{self.by_id[actor_id].label} is played by another student")
        student.actor = self.by_id[actor_id]
        return student
