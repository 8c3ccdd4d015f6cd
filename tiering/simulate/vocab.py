"""Small token tables the simulator builds every name, place and person from.

Names are assembled from token indices (region + two stem words + industry word + legal form), so
every variant a department might type (traditional characters, one wrong character, region in
brackets, ...) is a gather from a small table and a vectorised concatenation, never a per-row
Python string operation.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# province, city (as used in names), 6-digit admin division code, telephone area code
REGIONS: tuple[tuple[str, str, str, str], ...] = (
    ("北京", "北京", "110105", "010"), ("上海", "上海", "310115", "021"),
    ("天津", "天津", "120101", "022"), ("重庆", "重庆", "500103", "023"),
    ("广东", "广州", "440106", "020"), ("广东", "深圳", "440304", "0755"),
    ("江苏", "南京", "320106", "025"), ("江苏", "苏州", "320505", "0512"),
    ("浙江", "杭州", "330106", "0571"), ("浙江", "宁波", "330203", "0574"),
    ("四川", "成都", "510104", "028"), ("湖北", "武汉", "420106", "027"),
    ("湖南", "长沙", "430102", "0731"), ("陕西", "西安", "610113", "029"),
    ("山东", "济南", "370102", "0531"), ("山东", "青岛", "370202", "0532"),
    ("河南", "郑州", "410105", "0371"), ("福建", "福州", "350102", "0591"),
    ("福建", "厦门", "350203", "0592"), ("安徽", "合肥", "340104", "0551"),
    ("江西", "南昌", "360102", "0791"), ("河北", "石家庄", "130102", "0311"),
    ("辽宁", "沈阳", "210102", "024"), ("吉林", "长春", "220102", "0431"),
    ("黑龙江", "哈尔滨", "230102", "0451"), ("云南", "昆明", "530102", "0871"),
    ("贵州", "贵阳", "520102", "0851"), ("广西", "南宁", "450102", "0771"),
    ("山西", "太原", "140105", "0351"), ("新疆", "乌鲁木齐", "650102", "0991"),
)
MUNICIPALITIES = frozenset({"北京", "上海", "天津", "重庆"})

# 字号 words: a stem is two of them (中鼎 + 经纬)
STEM_WORDS: tuple[str, ...] = tuple(
    "中鼎 经纬 华信 恒通 盛达 鑫源 宏图 瑞丰 远洋 金桥 天成 永安 博远 泰和 广汇 德润 嘉禾 新锐 国泰 "
    "建元 长城 海纳 聚力 鼎盛 兴业 东方 九州 正泰 同创 信达 弘毅 安泰 祥云 锦程 华夏 明德 振华 德信 "
    "隆基 宝利 凯旋 联创 昌盛 融通 通达 万邦 中科 华宇 星河 富源 腾飞 世纪 龙腾 合力 佳禾 绿洲 蓝海 "
    "翔宇 润泽 宏远 启明 诚信 卓越 金诚 裕华 天润 中恒 汇通 宏达 鸿运 金鼎 北辰 南山 西岭 东岳 "
    "银河 云帆 恒昌 广厦 永兴 福瑞 泰达 新华 中建 润达 亿丰 百川 千禧 万通 天元 地平 金石 玉泉 "
    "青松 紫光 红星 蓝天 白鹭 黄河 长江 珠江 湘江 漓江 峨眉 泰山 华山 衡山 嵩山 恒山 昆仑 天山 "
    "祁连 秦岭 太行 燕山 阳光 海岸 森林 丰收 前程 远景 方圆 元亨 利贞 乾坤 坤元 鼎新 创新 博雅 "
    "睿智 智达 思远 致远 立信 守正 笃行 臻品 卓群 精诚 协力".split()
)

# industry word, GB/T 4754-2017 code (plausible), crm free-text industry, project affinity
INDUSTRIES: tuple[tuple[str, str, str], ...] = (
    ("实业发展", "L7211", "综合"), ("投资", "L7212", "投资"), ("建设", "E4819", "基础设施"),
    ("科技", "M7520", "科技"), ("能源", "D4411", "能源"), ("置业", "K7010", "房地产"),
    ("工程", "E4899", "基础设施"), ("贸易", "F5199", "贸易"), ("物流", "G5899", "物流"),
    ("环保", "N7724", "环保"), ("医疗", "Q8411", "医疗"), ("养老服务", "Q8514", "养老"),
    ("城市建设投资", "E4819", "城投"), ("新能源", "D4415", "新能源"),
    ("智能制造", "C3490", "制造业"), ("机械", "C3419", "制造业"), ("材料", "C3099", "新材料"),
    ("电力", "D4420", "电力"), ("水务", "D4610", "水务"), ("交通投资", "E4812", "交通"),
    ("文化旅游", "R9030", "文旅"), ("农业发展", "A0190", "农业"),
    ("供应链管理", "L7224", "供应链"), ("信息技术", "I6510", "信息技术"),
    ("资产管理", "L7211", "资产管理"), ("房地产开发", "K7010", "房地产"),
    ("建筑安装", "E4910", "建筑"), ("光伏", "C3825", "新能源"), ("化工", "C2614", "化工"),
    ("生物医药", "C2710", "医药"),
)

LEGAL_FORMS: tuple[str, ...] = ("有限公司", "有限责任公司", "股份有限公司", "集团有限公司")
# the legal-form mess swaps 有限公司 <-> 有限责任公司 and drops 股份/集团 to 有限公司
LEGAL_FORM_ALT: tuple[int, ...] = (1, 0, 0, 0)

SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"),
    ("林", "lin"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
)
GIVEN_CHARS: tuple[str, ...] = tuple("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌浩宇欣怡")

EMAIL_DOMAINS: tuple[str, ...] = ("qq.com", "163.com", "126.com", "sina.com", "139.com")

PROJECT_TYPES: tuple[str, ...] = ("基础设施", "房地产", "新能源", "先进制造", "城市更新", "医疗养老")
PROJECT_SUFFIX: dict[str, tuple[str, ...]] = {
    "基础设施": ("综合管廊项目", "快速路工程", "污水处理厂项目", "轨道交通配套工程"),
    "房地产": ("住宅小区项目", "商业综合体项目", "人才公寓项目"),
    "新能源": ("光伏电站项目", "风电场项目", "储能电站项目"),
    "先进制造": ("智能制造产业园项目", "新材料生产基地项目"),
    "城市更新": ("老旧小区改造项目", "城中村改造项目", "历史街区更新项目"),
    "医疗养老": ("康养中心项目", "医院扩建项目", "养老社区项目"),
}

TYPO_POOL = "中华国金海天东西南北信达通盛兴恒泰鑫源宏丰瑞安德嘉新"


def _to_traditional(words: tuple[str, ...]) -> tuple[str, ...]:
    """Traditional form of each token; characters GBK cannot encode stay simplified."""
    import opencc

    conv = opencc.OpenCC("s2t")
    out = []
    for word in words:
        trad = "".join(c if _gbk_ok(c) else s for c, s in zip(conv.convert(word), word))
        out.append(trad if len(trad) == len(word) else word)
    return tuple(out)


def _gbk_ok(char: str) -> bool:
    try:
        char.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def _with_typo(words: tuple[str, ...]) -> tuple[str, ...]:
    """Each token with one character replaced (a fixed, seed-independent table)."""
    rng = np.random.default_rng(31)
    out = []
    for word in words:
        pos = int(rng.integers(len(word)))
        pool = [c for c in TYPO_POOL if c != word[pos]]
        out.append(word[:pos] + pool[int(rng.integers(len(pool)))] + word[pos + 1:])
    return tuple(out)


@lru_cache(maxsize=1)
def tables() -> dict[str, tuple[str, ...]]:
    """Every token table with its traditional and typo variants."""
    regions = tuple(r[1] for r in REGIONS)
    industries = tuple(i[0] for i in INDUSTRIES)
    return {
        "region": regions,
        "region_trad": _to_traditional(regions),
        "stem": STEM_WORDS,
        "stem_trad": _to_traditional(STEM_WORDS),
        "stem_typo": _with_typo(STEM_WORDS),
        "industry": industries,
        "industry_trad": _to_traditional(industries),
        "legal": LEGAL_FORMS,
        "legal_trad": _to_traditional(LEGAL_FORMS),
    }
