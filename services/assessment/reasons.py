"""Why a title was refused, as data: one dict per reason, exactly recognition_refused v2's
RefusalReason (kind total_below / indicator_below / reviewer), so that each reader states it in
their own language. The English sentences of version 1 are derived from the same data, word for
word as integrators know them ("total 72 is under 80", "TC1.3: 3/10, under the minimum 5").

Pure: no database, no nameko.
"""
TOTAL_BELOW, INDICATOR_BELOW, REVIEWER = "total_below", "indicator_below", "reviewer"
FIELDS = ("kind", "indicator", "score", "maximum", "minimum", "total", "note")
MAX_REASONS = 20  # what the event contracts carry
MAX_NOTE = 500
# A reason the system itself states (the contract has no kind for it: it travels as a note, in
# Vietnamese as people read it), with the sentence version 1 always carried for it.
ALREADY_TITLED = "Đã được công nhận danh hiệu Công dân học tập của năm này"
SYSTEM_NOTES_V1 = {ALREADY_TITLED: "already holds the title for this year"}


def _reason(kind, **facts):
    return {name: None for name in FIELDS} | {"kind": kind} | facts


def total_below(total, minimum):
    return _reason(TOTAL_BELOW, total=total, minimum=minimum)


def indicator_below(indicator, score, maximum, minimum):
    return _reason(INDICATOR_BELOW, indicator=indicator, score=score, maximum=maximum,
                   minimum=minimum)


def reviewer(note):
    """The official's own words, kept as written (a person wrote them, in their language)."""
    return _reason(REVIEWER, note=str(note)[:MAX_NOTE])


def of_decision(decision):
    """The broken parts of the pass rule (empty when it is met)."""
    found = [] if decision.total >= decision.min_total else [
        total_below(decision.total, decision.min_total)]
    return found + [indicator_below(r.code, r.score, r.maximum, r.minimum)
                    for r in decision.results if not r.met]


def refusal(decision, notes=()):
    """The rule's reasons, then the reviewer's notes (a note repeating a rule's sentence, as
    clients of version 1 sent them, is not said twice)."""
    found = of_decision(decision)
    said = {sentence(r) for r in found}
    for note in notes:
        if note not in said:
            said.add(note)
            found.append(reviewer(note))
    return found


def sentence(reason):
    """Version 1's sentence for a reason (English for the rule's reasons, the note as is)."""
    if reason["kind"] == TOTAL_BELOW:
        return f"total {reason['total']} is under {reason['minimum']}"
    if reason["kind"] == INDICATOR_BELOW:
        return (f"{reason['indicator']}: {reason['score']}/{reason['maximum']}, under the "
                f"minimum {reason['minimum']}")
    return SYSTEM_NOTES_V1.get(reason["note"], reason["note"])


def sentences(reasons):
    return [sentence(r) for r in reasons]


def as_data(reasons):
    """What recognition_refused version 2 (and a closing's recognitions_refused) carries:
    at most 20 reasons."""
    return list(reasons)[:MAX_REASONS]


def for_event(reasons):
    """What each version carries: v1's sentences cut at 500 characters, v2's data."""
    kept = as_data(reasons)
    return {1: [s[:MAX_NOTE] for s in sentences(kept)], 2: kept}


def stored(reasons):
    """As the assessment row keeps them (JSON); None for no reason."""
    return list(reasons) or None


def view(stored_reasons):
    """(structured reasons, sentences) of a stored refusal. Refusals decided before reasons
    were kept as data hold sentences only: their structured form is unknown (None)."""
    if not stored_reasons:
        return None, stored_reasons
    if all(isinstance(r, dict) for r in stored_reasons):
        return list(stored_reasons), sentences(stored_reasons)
    return None, [r if isinstance(r, str) else sentence(r) for r in stored_reasons]
