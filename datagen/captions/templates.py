"""Statement templates of each caption family: kind -> alternative phrasings (``behaviour``
and ``gear_change`` appear in clip samples only: :mod:`datagen.captions.clip`).

Slots (``{adj}``, ``{dist}``...) are filled with the words of :mod:`datagen.captions.lexicon`
for the statement's value; a template never adds a fact of its own.
"""

from __future__ import annotations

Templates = dict[str, tuple[str, ...]]

DESCRIPTIVE: Templates = {
    "weather": ("The weather is {adj}", "The sky shows {noun}"),
    "time_of_day": ("The drive takes place {when}", "It is {noun}"),
    "surface": ("The road surface is {adj}", "The tarmac is {adj}"),
    "visibility": ("Visibility is {level}", "There is {noun}"),
    "road": ("The car is on {noun}", "Ahead, {verb}"),
    "style": ("The driver is {adj}", "The car is driven {adv}"),
    "speed_kmh": ("The car travels at about {kmh} km/h", "The speed is roughly {kmh} km/h"),
    "speed_band": ("The car is {moving}",),
    "event": ("There is {noun}", "In this moment {verb}"),
    "object": ("A {cls} is {where}, about {dist} m away", "There is a {cls} {where} at {dist} m"),
    "count": ("{n_cls} {be} in view",),
    "behaviour": ("Over these seconds {verb}", "The clip shows {noun}"),
    "gear_change": ("Meanwhile {verb}", "There is {noun}"),
}

TERSE: Templates = {
    "weather": ("{adj}",),
    "time_of_day": ("{noun}",),
    "surface": ("{tag}",),
    "visibility": ("{noun}",),
    "road": ("{tag}",),
    "style": ("{adj} driver",),
    "speed_kmh": ("~{kmh} km/h",),
    "speed_band": ("{adj}",),
    "event": ("{tag}",),
    "object": ("{cls} {tag} {dist} m",),
    "count": ("{n} {cls_pl}",),
    "behaviour": ("{tag}",),
    "gear_change": ("{tag}",),
}

DASHCAM_LOG: Templates = {
    "weather": ("WX={tag}",),
    "time_of_day": ("LIGHT={tag}",),
    "surface": ("SURF={adj}",),
    "visibility": ("VIS={level}",),
    "road": ("ROAD={tag}",),
    "style": ("DRV={adj}",),
    "speed_kmh": ("SPD={kmh} km/h",),
    "speed_band": ("SPD={adj}",),
    "event": ("EVT={tag}",),
    "object": ("OBJ={cls} {tag} {dist} m",),
    "count": ("N({cls_pl})={n}",),
    "behaviour": ("BHV={tag}",),
    "gear_change": ("GEAR={tag}",),
}

QUESTION_ANSWER: Templates = {
    "weather": ("Q: What is the weather? A: {adj}.", "Q: How is the sky? A: {noun}."),
    "time_of_day": ("Q: What time of day is it? A: {noun}.",),
    "surface": ("Q: How is the road surface? A: {adj}.",),
    "visibility": ("Q: How is the visibility? A: {level}.",),
    "road": ("Q: What is the road like? A: {noun}.",),
    "style": ("Q: How is the car driven? A: {adv}.", "Q: What kind of driver? A: {adj}."),
    "speed_kmh": ("Q: How fast is the car? A: about {kmh} km/h.",),
    "speed_band": ("Q: Is the car moving? A: it is {moving}.",),
    "event": ("Q: What happens? A: {noun}.",),
    "object": ("Q: What is nearby? A: a {cls} {where}, {dist} m away.",),
    "count": ("Q: How many {cls_pl} are visible? A: {n_cls}.",),
    "behaviour": ("Q: How is the car driven in this clip? A: {noun}.",),
    "gear_change": ("Q: Does the gear change? A: {noun}.",),
}

NARRATIVE: Templates = {
    "weather": ("We drive through {noun}", "Outside it is {adj}"),
    "time_of_day": ("It is {noun} as we go", "We set off {when}"),
    "surface": ("Under our wheels the road is {adj}",),
    "visibility": ("We have {noun}",),
    "road": ("In front of us {verb}", "We follow {noun}"),
    "style": ("Our driver is {adj}", "We are driven {adv}"),
    "speed_kmh": ("We hold about {kmh} km/h", "The needle shows about {kmh} km/h"),
    "speed_band": ("We are {moving}",),
    "event": ("Suddenly {verb}", "We notice {noun}"),
    "object": ("We see a {cls} {where}, some {dist} m off",),
    "count": ("We can see {n_cls}",),
    "behaviour": ("For a moment {verb}", "We notice {noun}"),
    "gear_change": ("Then {verb}", "We feel {noun}"),
}

TAGLINE: Templates = {
    "weather": ("#{tag}",),
    "time_of_day": ("#{tag}",),
    "surface": ("#{tag}",),
    "road": ("#{tag}",),
    "style": ("#{adj} driving",),
    "speed_band": ("#{adj}",),
    "event": ("#{tag}",),
    "behaviour": ("#{tag}",),
    "gear_change": ("#{tag}",),
}

RADIO: Templates = {
    "weather": ("conditions {adj}", "we have {noun} out here"),
    "time_of_day": ("it's {noun} now",),
    "surface": ("surface is {adj}",),
    "visibility": ("visibility {level}",),
    "road": ("{verb}",),
    "style": ("driver is {adj}",),
    "speed_kmh": ("doing about {kmh} km/h",),
    "speed_band": ("unit {moving}",),
    "event": ("reporting {noun}",),
    "object": ("{cls} {where} at {dist} m",),
    "count": ("{n_cls} around",),
    "behaviour": ("observing {noun}",),
    "gear_change": ("{verb}",),
}
