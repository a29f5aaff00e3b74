from django import template

from association.models import Member

from ..portal import TrainingRow, member_trainings

register = template.Library()


@register.simple_tag
def member_training_rows(member: Member) -> list[TrainingRow]:
    """For the portal home page: the trainings MEMBER may join, with its registrations."""
    return member_trainings(member)
