import datetime as dt

from django import template

from association.models import Member
from association.nendo import wareki

from ..portal import TrainingRow, member_trainings

register = template.Library()


@register.simple_tag
def member_training_rows(member: Member) -> list[TrainingRow]:
    """For the portal home page: the trainings MEMBER may join, with its registrations."""
    return member_trainings(member)


@register.filter(name="wareki")
def wareki_filter(value: dt.date | dt.datetime | None) -> str:
    """令和8年12月22日（火）"""
    return "" if value is None else wareki(value)
