"""Similar characters and small edit distances, for roads written slightly wrong.

``_SIMILAR`` maps each character of a group of often-confused ones (same
or close sound, similar shape: 梅/眉) to the group's first; ``_osa_within_one``
tells whether two names are at most one edit apart.
"""

from __future__ import annotations

_SIMILAR_GROUPS = (
    "园圆元员源苑院缘", "华化花桦", "兴星幸杏", "安鞍岸", "康慷糠", "平坪苹萍屏凭", "宁凝柠",
    "和禾合河荷何", "顺舜", "泰太态", "丰峰锋枫封风蜂凤奉", "盛胜圣晟", "隆龙珑", "新心欣鑫辛芯",
    "荣蓉容榕溶融", "昌常场", "明铭鸣名", "德得", "林霖琳麟临淋", "湖胡壶", "溪西希曦熙",
    "江疆姜将", "山衫杉珊", "岭领玲铃龄", "坡波", "塘唐糖堂棠", "湾弯", "洲州舟周", "桥乔侨",
    "亭庭廷婷停", "庄装桩", "台抬苔", "岗港钢", "东冬", "南楠", "文纹闻", "学雪", "建健剑",
    "福富甫付", "寿受授", "梅眉媒煤玫", "桂贵", "兰蓝澜", "竹珠朱", "松嵩宋", "滨斌彬宾",
    "城成诚承程", "阳杨扬洋羊", "光广", "仁人", "义益艺", "礼理李里力", "中钟忠", "正政郑",
    "永勇涌", "金今锦", "玉裕誉", "绣秀", "红虹洪宏鸿", "朝潮", "晖辉徽", "振震", "才财材",
    "贸茂", "工公宫", "农浓", "青清", "彩采", "碧壁", "瑶遥", "厝措", "埔浦铺", "墩敦", "头投",
    "坂板阪", "边编鞭", "路陆", "巷项向", "祥翔", "霞峡", "紫子", "云芸", "翠萃",
)  # fmt: skip
"""Characters often confused in addresses (same or close sound, similar shape), by group."""

_SIMILAR = str.maketrans({ch: group[0] for group in _SIMILAR_GROUPS for ch in group})


def _osa_within_one(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are at most one edit apart (insert, delete, substitute, swap)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    if la > lb:
        a, b = b, a
    # b is one longer: deleting one character of b gives a.
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]
