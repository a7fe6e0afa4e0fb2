"""Made-up but plausible Chinese names: roads, compounds, hamlets, people.

Every function draws from the generator it is given, so names are
deterministic for a seed; name pools never repeat a name within one call.
"""

from __future__ import annotations

import numpy as np

__all__ = ["compound_names", "person_names", "phone_numbers", "road_names", "word_pool"]

_FIRST = list(
    "东西南北新荔兴华学文建胜和平安康福寿龙凤梅桂兰竹松海山湖滨城园阳光明德仁义礼信中正永丰"
    "盛瑞祥金玉锦绣红星朝晖振宏育才商贸工农长青春秋彩虹翠碧云霞紫瑶"
)
_SECOND = list("园华兴安康平宁和顺泰丰盛隆新荣昌明德林湖溪江河山岭坡塘湾洲桥亭苑庄台岗")

_ROAD_SUFFIX = {
    "arterial": ("大道", "路", "路"),
    "secondary": ("路", "路", "街"),
    "local": ("街", "巷", "路", "里"),
    "path": ("巷", "路", "道"),
}
_COMPOUND_SUFFIX = {
    "lane": ("里", "巷片区", "坊", "街区"),
    "walkup": ("新村", "小区", "小区", "宿舍区"),
    "midrise": ("花园", "苑", "家园", "小区", "雅居"),
    "tower": ("华府", "名都", "国际", "天城", "公馆", "壹号"),
    "dorm": ("公寓", "员工宿舍", "人才公寓"),
    "commercial": ("大厦", "广场", "商厦", "中心", "商业街"),
}
_SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏"
    "苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
)
_GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国玉兰志红梅斌俊峰鹏辉宇浩晨欣怡婷雪琳"
    "佳颖子涵思雨嘉文博瑞泽天昊轩梓萱诗瑶振海德福春燕美凤金荣文彬国庆永健丹雯倩茜晓东立新海燕"
)


def word_pool(rng: np.random.Generator, n: int, *, extra: tuple[str, ...] = ()) -> list[str]:
    """``n`` distinct two-character words (``extra`` words first), in random order."""
    words = list(dict.fromkeys(extra))
    firsts = np.asarray(_FIRST, dtype=object)
    seconds = np.asarray(_SECOND, dtype=object)
    pairs = (firsts[:, None] + seconds[None, :]).ravel()
    pairs = pairs[[a[0] != a[1] for a in pairs]]
    rng.shuffle(pairs)
    words += [w for w in pairs.tolist() if w not in words]
    if len(words) < n:
        # Past the two-character pool (about 3,000 words), number the rest.
        words += [f"{words[i % len(words)]}{i // len(words) + 1}" for i in range(n - len(words))]
    return words[:n]


def road_names(
    rng: np.random.Generator, kinds: list[str], *, extra: tuple[str, ...] = ()
) -> list[str]:
    """One distinct name per road of the given kinds (``arterial`` → 大道/路 …)."""
    words = word_pool(rng, len(kinds), extra=extra)
    out = []
    for word, kind in zip(words, kinds, strict=True):
        suffixes = _ROAD_SUFFIX.get(kind, ("路",))
        out.append(word + suffixes[int(rng.integers(len(suffixes)))])
    return out


def compound_names(rng: np.random.Generator, types: list[str]) -> list[str]:
    """One distinct name per compound (小区) of the given building types."""
    words = word_pool(rng, len(types))
    out = []
    for word, kind in zip(words, types, strict=True):
        suffixes = _COMPOUND_SUFFIX.get(kind, ("小区",))
        out.append(word + suffixes[int(rng.integers(len(suffixes)))])
    return out


def person_names(rng: np.random.Generator, n: int, *, local: tuple[str, ...] = ()) -> list[str]:
    """``n`` person names; surnames in ``local`` are drawn more often (half of all names)."""
    if n == 0:
        return []
    national = np.asarray(_SURNAMES, dtype=object)
    regional = np.asarray(local or tuple(_SURNAMES[:10]), dtype=object)
    weights = 1.0 / np.arange(1, len(regional) + 1)
    use_local = rng.random(n) < 0.5
    surnames = np.where(
        use_local,
        regional[rng.choice(len(regional), n, p=weights / weights.sum())],
        national[rng.integers(len(national), size=n)],
    )
    given = np.asarray(_GIVEN, dtype=object)
    first = given[rng.integers(len(given), size=n)]
    second = given[rng.integers(len(given), size=n)]
    two = rng.random(n) < 0.7
    names = surnames + first + np.where(two, second, "")
    return [str(x) for x in names]


def phone_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """Made-up mobile numbers that can never reach anyone: ``0044 7700 900000``–``900999``.

    China reserves no numbers for fiction: any 11-digit mobile number may belong to
    someone, and a demo's roster is printed, exported and dialled. The numbers are
    taken from the range the UK regulator (Ofcom) keeps for drama and will not
    allocate, ``07700 900000``–``900999``, written as dialled from China, with the
    international prefix ``00`` (``0044 7700 900123``): not as ``+44 …``, which a
    spreadsheet would take for a formula (exports write it as ``'+44 …``), nor as
    ``07700 …``, which dialled in China is a call to area code 0770. The importers
    of rosters (:func:`gridgis.registers.workers.check_phone`) take them as they
    take any number of digits and spaces. The first 1,000 people get different
    numbers, in a random order; more share them. The random draws are those of
    earlier versions, so the rest of a demo district is unchanged.

    Examples
    --------
    >>> phone_numbers(np.random.default_rng(0), 3)
    ['0044 7700 900001', '0044 7700 900002', '0044 7700 900000']
    """
    n_prefixes = 15  # the draws of the prefixes of earlier versions' Chinese-looking numbers
    heads = rng.integers(n_prefixes, size=n)
    tails = rng.integers(0, 10_000, size=n)
    order = np.argsort(tails * n_prefixes + heads, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return [f"0044 7700 900{r % 1000:03d}" for r in rank]
