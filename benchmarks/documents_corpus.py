"""Planted-fact documents and labelled questions for Ask and retrieval (tests and benchmarks).

A long English report and a long Chinese one, page by page: filler paragraphs about an
imaginary company's routine, varied so that no two pages read alike, and on chosen pages
one planted fact each. Each question names the page that holds its answer; half of them
say it in other words than the page (for measuring what vectors add), half with the
page's own words. Deterministic: the same seed writes the same pages.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "DEADLINES",
    "EN_FACTS",
    "ZH_FACTS",
    "Fact",
    "chinese_pages",
    "english_pages",
]


@dataclass(frozen=True)
class Fact:
    """A planted fact, the page it is on, a question about it and the answer's key words.

    Attributes:
        page: the page (from 1) it is planted on.
        text: the sentence planted.
        question: a question it answers.
        answer: a word or number the answer must hold.
        paraphrase: the question does not use the fact's own key words.
    """

    page: int
    text: str
    question: str
    answer: str
    paraphrase: bool = False


EN_FACTS: tuple[Fact, ...] = (
    Fact(3, "The launch code for Project Kestrel is VIOLET-9317.",
         "What is the launch code for Project Kestrel?", "VIOLET-9317"),
    Fact(7, "Dr. Amara Osei leads the soil chemistry laboratory in Tromso.",
         "Who is in charge of the lab that studies the chemistry of dirt?", "Osei", True),
    Fact(11, "The backup generator in Building C was serviced by Halvorsen Electric.",
         "Which company serviced the backup generator in Building C?", "Halvorsen"),
    Fact(15, "Our cafeteria switched its coffee supplier to Blue Heron Roasters in May.",
         "Who supplies the coffee for the staff canteen now?", "Blue Heron", True),
    Fact(19, "The annual budget for employee training was raised to 840,000 euros.",
         "How much money is set aside each year for teaching staff new skills?", "840,000", True),
    Fact(23, "The warehouse in Rotterdam stores 12,500 pallets of ceramic tiles.",
         "How many pallets of ceramic tiles does the Rotterdam warehouse store?", "12,500"),
    Fact(27, "Marta Lindqvist was appointed chief financial officer in February.",
         "Who became the new head of finance?", "Lindqvist", True),
    Fact(31, "The server room is cooled by three Daikin chillers rated at 90 kW each.",
         "What cools the server room?", "Daikin"),
    Fact(35, "The company mascot is a red fox named Ember.",
         "What animal represents the firm, and what is it called?", "Ember", True),
    Fact(39, "The pilot plant in Gdansk produced 4.2 tonnes of recycled polymer in March.",
         "How much recycled polymer did the Gdansk pilot plant produce in March?", "4.2"),
)  # fmt: skip

#: Deadlines planted on the first page, a middle page and the last page of the report:
#: a "list every deadline" question must find all three.
DEADLINES: tuple[Fact, ...] = (
    Fact(1, "Deadline: the lease renewal form must be filed by 30 June.",
         "List every deadline in this report.", "30 June"),
    Fact(21, "Deadline: the fire safety audit must be completed by 15 September.",
         "List every deadline in this report.", "15 September"),
    Fact(42, "Deadline: the pension fund report must be sent by 1 December.",
         "List every deadline in this report.", "1 December"),
)  # fmt: skip

ZH_FACTS: tuple[Fact, ...] = (
    Fact(2, "青岛分公司的新仓库面积为八千平方米。", "青岛分公司的新仓库有多大？", "八千"),
    Fact(5, "本年度的员工培训预算为六十万元。", "今年员工培训的预算是多少？", "六十万"),
    Fact(8, "财务总监由王丽华担任。", "谁担任财务总监？", "王丽华"),
    Fact(11, "公司的吉祥物是一只名叫小橙的熊猫。", "公司的吉祥物叫什么名字？", "小橙"),
    Fact(14, "合同规定付款日期为每年六月三十日。", "付款日期是哪一天？", "六月三十日"),
)

_EN_SUBJECTS = (
    "the logistics team", "the regional office", "the quality group", "the sales department",
    "the maintenance crew", "the procurement office", "the legal team", "the design studio",
    "the customer service desk", "the research unit", "the facilities team", "the IT helpdesk",
)  # fmt: skip
_EN_VERBS = (
    "reviewed", "updated", "discussed", "documented", "planned", "compared", "prepared",
    "summarised", "checked", "revised", "presented", "archived",
)  # fmt: skip
_EN_OBJECTS = (
    "the quarterly schedule", "supplier invoices", "the shift rota", "travel requests",
    "the inventory counts", "meeting minutes", "the onboarding checklist", "parking permits",
    "the printer contracts", "holiday calendars", "safety signage", "the intranet pages",
    "delivery routes", "office seating plans", "packaging samples", "the visitor log",
)  # fmt: skip
_EN_TAILS = (
    "without notable issues", "after a short delay", "as agreed last month",
    "with help from two interns", "ahead of the next review", "following the usual process",
    "and shared the results by email", "in a brief afternoon session",
)  # fmt: skip

_ZH_SUBJECTS = (
    "物流部",
    "区域办公室",
    "质量小组",
    "销售部",
    "维修组",
    "采购处",
    "法务组",
    "客服中心",
)
_ZH_VERBS = ("检查了", "更新了", "讨论了", "整理了", "规划了", "比较了", "准备了", "修订了")
_ZH_OBJECTS = (
    "季度日程", "供应商发票", "排班表", "出差申请", "库存清单", "会议纪要", "入职清单",
    "停车许可", "打印机合同", "假期日历", "安全标识", "内部网页",
)  # fmt: skip
_ZH_TAILS = (
    "，进展顺利。",
    "，稍有延误。",
    "，按上月的约定进行。",
    "，并通过邮件分享了结果。",
    "，为下次评审做准备。",
)


def _english_filler(rng: random.Random, sentences: int) -> list[str]:
    out = []
    for _ in range(sentences):
        subject = rng.choice(_EN_SUBJECTS)
        out.append(
            f"{subject[0].upper()}{subject[1:]} {rng.choice(_EN_VERBS)} "
            f"{rng.choice(_EN_OBJECTS)} {rng.choice(_EN_TAILS)}."
        )
    return out


def english_pages(pages: int = 42, *, seed: int = 7, sentences: int = 14) -> list[list[str]]:
    """The English report: a list of pages, each a list of lines (one sentence a line).

    Args:
        pages: how many pages (facts planted past it are left out).
        seed: the filler's seed.
        sentences: filler sentences per page (14 make about 150 tokens a page).
    """
    rng = random.Random(seed)
    planted: dict[int, list[str]] = {}
    for fact in EN_FACTS + DEADLINES:
        planted.setdefault(fact.page, []).append(fact.text)
    out = []
    for number in range(1, pages + 1):
        lines = [f"Operations report, page {number}."]
        filler = _english_filler(rng, sentences)
        middle = len(filler) // 2
        lines += filler[:middle] + planted.get(number, []) + filler[middle:]
        out.append(lines)
    return out


def chinese_pages(pages: int = 16, *, seed: int = 11, sentences: int = 12) -> list[str]:
    """The Chinese report: one text per page (written to a text file, or one section each)."""
    rng = random.Random(seed)
    planted: dict[int, list[str]] = {}
    for fact in ZH_FACTS:
        planted.setdefault(fact.page, []).append(fact.text)
    out = []
    for number in range(1, pages + 1):
        filler = [
            f"{rng.choice(_ZH_SUBJECTS)}{rng.choice(_ZH_VERBS)}{rng.choice(_ZH_OBJECTS)}"
            f"{rng.choice(_ZH_TAILS)}"
            for _ in range(sentences)
        ]
        middle = len(filler) // 2
        out.append("".join(filler[:middle] + planted.get(number, []) + filler[middle:]))
    return out
