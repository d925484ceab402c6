"""Static site content the emulator serves: the news feed.

Shape per the recording [REC]: ``{"id","title","lang","text"(HTML),"status","created_at",
"updated_at"}``, newest first, filtered by ``lang`` (``en`` when not given [REC: the unfiltered
recording returned English items]). The items themselves are short stand-ins written for the
emulator, in English and Russian so that non-ASCII escaping is exercised.
"""

from __future__ import annotations

from typing import Any

NEWS: tuple[dict[str, Any], ...] = (
    {
        "id": 41,
        "title": "Emulator: new models",
        "lang": "en",
        "text": '<p>New models are listed on the <a href="/algorithms">algorithms page</a>.</p>',
        "status": 1,
        "created_at": "2026-03-02 05:00:00",
        "updated_at": "2026-03-02 07:12:40",
    },
    {
        "id": 40,
        "title": "Эмулятор: новые модели",
        "lang": "ru",
        "text": '<p>Новые модели на <a href="/ru/algorithms">странице алгоритмов</a>.</p>',
        "status": 1,
        "created_at": "2026-03-02 05:00:00",
        "updated_at": "2026-03-02 07:12:40",
    },
    {
        "id": 38,
        "title": "January updates",
        "lang": "en",
        "text": "<ol>\r\n<li>Very long tracks (15 minutes and more) are divided into parts and "
        "processed on several GPUs at once.</li>\r\n</ol>",
        "status": 1,
        "created_at": "2024-01-13 05:00:00",
        "updated_at": "2024-01-13 14:15:55",
    },
    {
        "id": 37,
        "title": "Обновления в январе",
        "lang": "ru",
        "text": "<p>Очень длинные треки делятся на части и обрабатываются на нескольких GPU.</p>",
        "status": 1,
        "created_at": "2024-01-13 05:00:00",
        "updated_at": "2024-01-13 14:15:55",
    },
    {
        "id": 36,
        "title": "Christmas updates",
        "lang": "en",
        "text": "<p>We have added the <strong>DrumSep</strong> model "
        "(kick, snare, cymbals, toms).</p>",
        "status": 1,
        "created_at": "2023-12-24 05:00:00",
        "updated_at": "2023-12-24 11:45:03",
    },
    {
        "id": 33,
        "title": "Обновления в декабре",
        "lang": "ru",
        "text": "<p>Мы добавили новую модель BandIt Plus (голос, музыка, эффекты).</p>",
        "status": 1,
        "created_at": "2023-12-21 05:00:00",
        "updated_at": "2023-12-21 09:30:00",
    },
)


def news(lang: str, start: int, limit: int) -> list[dict[str, Any]]:
    items = [dict(item) for item in NEWS if item["lang"] == lang]
    return items[start : start + limit]
