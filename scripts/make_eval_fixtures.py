#!/usr/bin/env python3
"""Writes small samples of each benchmark in its original file format, with model answers
chosen to exercise every scoring rule, and the scores that the reference's scoring logic gives
on them (re-implemented here from the public code of haotian-liu/LLaVA, lupantech/ScienceQA,
MME's eval_tool, MMBench's can_infer and GQA's eval.py). Output: Tests/Fixtures/evaluation/.
Run: python3 scripts/make_eval_fixtures.py   (standard library only; `swift test` needs no Python)."""
import json, os, re, base64, statistics

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "evaluation")
expected = {}


def write(rel, text):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def jsonl(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def answers_file(pairs):
    return jsonl([{"question_id": q, "prompt": "", "text": t, "answer_id": f"a{q}", "model_id": "fixture", "metadata": {}} for q, t in pairs])


# ---------------------------------------------------------------- ScienceQA
def sqa():
    problems = {
        "1": dict(question="Which is a mammal?", choices=["cat", "trout", "frog"], answer=0, hint="", image="image.png", subject="natural science", grade="grade2"),
        "2": dict(question="Which word is a noun?", choices=["run", "table"], answer=1, hint="Read the words.", image=None, subject="language science", grade="grade5"),
        "3": dict(question="Which state is farthest north?", choices=["Ohio", "Texas", "Maine", "Utah"], answer=2, hint="Look at the map.", image="image.png", subject="social science", grade="grade8"),
        "4": dict(question="What is the boiling point?", choices=["0 C", "100 C", "50 C"], answer=1, hint="", image=None, subject="natural science", grade="grade11"),
        "5": dict(question="Which is a solid?", choices=["ice", "steam"], answer=0, hint="", image=None, subject="natural science", grade="grade3"),
        "6": dict(question="Which is a fish?", choices=["shark", "whale", "seal"], answer=0, hint="A  sea  animal.", image="image.png", subject="natural science", grade="grade7"),
        "7": dict(question="Which is an adjective?", choices=["blue", "jump"], answer=0, hint="", image=None, subject="language science", grade="grade9"),
        "8": dict(question="Which colony is shown?", choices=["Maryland", "Georgia", "Virginia", "Delaware", "New York"], answer=4, hint="", image="image.png", subject="social science", grade="grade4"),
        "9": dict(question="Not in the split", choices=["a", "b"], answer=0, hint="", image=None, subject="natural science", grade="grade1"),
    }
    for p in problems.values():
        p.update(lecture="", solution="", split="test", task="closed choice")
    problems["9"]["split"] = "train"
    splits = {"test": ["1", "2", "3", "4", "5", "6", "7", "8"], "train": ["9"]}
    answers = [("1", "A"), ("2", "B. table"), ("3", "The answer is C."), ("4", "The answer is B. The answer is A."),
               ("5", "ice"), ("6", "D"), ("7", "A"), ("8", "The answer is E!")]  # problem 8 answer E; all 8 present
    write("scienceqa/problems.json", json.dumps(problems, indent=1))
    write("scienceqa/pid_splits.json", json.dumps(splits))
    write("scienceqa/answers.jsonl", answers_file(answers))
    preds = {q: t for q, t in answers}
    options = ["A", "B", "C", "D", "E"]
    results = {}
    for pid in splits["test"]:
        prob, text = problems[pid], preds.get(pid, "FAILED")
        if text in options:
            ans = text
        elif len(text) >= 3 and text[0] in options and text[1:3] == ". ":
            ans = text[0]
        else:
            found = re.findall(r"The answer is ([A-Z]).", text)
            ans = found[0] if len(found) == 1 else "FAILED"
        results[pid] = options.index(ans) if ans in options[:len(prob["choices"])] else -1
    # evaluate_acc.py's categories
    def acc(pred):
        rows = [p for pid, p in ((pid, problems[pid]) for pid in splits["test"]) if pred(p)]
        ids = [pid for pid in splits["test"] if pred(problems[pid])]
        return round(100 * sum(results[i] == problems[i]["answer"] for i in ids) / len(ids), 2) if ids else None
    table = {
        "NAT": acc(lambda p: p["subject"] == "natural science"), "SOC": acc(lambda p: p["subject"] == "social science"),
        "LAN": acc(lambda p: p["subject"] == "language science"), "TXT": acc(lambda p: bool(p["hint"])),
        "IMG": acc(lambda p: bool(p["image"])), "NO": acc(lambda p: not p["hint"] and not p["image"]),
        "G1-6": acc(lambda p: p["grade"] in [f"grade{i}" for i in range(1, 7)]),
        "G7-12": acc(lambda p: p["grade"] in [f"grade{i}" for i in range(7, 13)]), "Avg": acc(lambda p: True)}
    expected["scienceqa"] = {"results": results, "table": table,
                             "prompt_3": "Context: Look at the map.\nQuestion: Which state is farthest north?\nOptions: (A) Ohio (B) Texas (C) Maine (D) Utah\nAnswer with the option's letter from the given choices directly.",
                             "prompt_6_context": "Context: A sea animal."}


# ---------------------------------------------------------------- POPE
def pope():
    def read_yes(text):
        if text.find(".") != -1:
            text = text.split(".")[0]
        words = text.replace(",", "").split(" ")
        return not ("No" in words or "not" in words or "no" in words)
    samples = {
        "random": [("Yes", "yes"), ("No", "no"), ("Yes, there is.", "no"), ("There is not a dog.", "yes"), ("yes", "yes"), ("no, none", "no")],
        "popular": [("Yes. No.", "yes"), ("Nope", "no"), ("I see no cat", "yes"), ("Yes", "yes"), ("NO", "no"), ("Not sure", "no")],
        "adversarial": [("No.", "no"), ("no", "no"), ("No", "yes"), ("yes", "no"), ("Yes", "yes"), ("there is no,dog", "no")],
    }
    result = {}
    answers = []
    for cat, rows in samples.items():
        qs = [{"question_id": i + 1, "image": f"img{i % 2}.png", "text": f"Is there a thing {i} in the image?", "label": lab} for i, (_, lab) in enumerate(rows)]
        write(f"pope/coco/coco_pope_{cat}.json", jsonl(qs))
        answers += [(f"{cat}/{i + 1}", t) for i, (t, _) in enumerate(rows)]
        TP = FP = TN = FN = 0
        for (text, lab) in rows:
            p, l = read_yes(text), lab == "yes"
            TP += p and l; FP += p and not l; TN += (not p) and (not l); FN += (not p) and l
        prec = TP / (TP + FP); rec = TP / (TP + FN); f1 = 2 * prec * rec / (prec + rec)
        result[cat] = {"TP": TP, "FP": FP, "TN": TN, "FN": FN, "accuracy": (TP + TN) / len(rows), "precision": prec, "recall": rec,
                       "f1": f1, "yes_ratio": sum(read_yes(t) for t, _ in rows) / len(rows)}
    write("pope/answers.jsonl", answers_file(answers))
    expected["pope"] = result


# ---------------------------------------------------------------- MME
def mme():
    def parse(pred):
        if pred in ["yes", "no"]:
            return pred
        prefix = pred[:4]
        return "yes" if "yes" in prefix else ("no" if "no" in prefix else "other")
    data = {  # subtask -> [(image, nested layout?, [(question, gt, prediction)] x2)]
        "existence": [("000000006040.jpg", False, [("Is there a train in this image? Please answer yes or no.", "Yes", "Yes"), ("Is there a bed in this image? Please answer yes or no.", "No", "No")]),
                      ("000000044279.jpg", False, [("Is there a dog? Please answer yes or no.", "Yes", "Yes, there is"), ("Is there a cat? Please answer yes or no.", "No", "Yes")])],
        "artwork": [("10002.jpg", True, [("Is this artwork created by Hals? Please answer yes or no.", "Yes", "Nope"), ("Is this artwork created by Monet?  Please answer yes or no.", "No", "no")]),
                    ("10049.jpg", True, [("Is this a painting? Please answer yes or no.", "Yes", "Maybe"), ("Is this a photo? Please answer yes or no.", "No", "NO.")])],
        "code_reasoning": [("0020.png", False, [("Is a c++ code shown? Please answer yes or no.", "No", "no"), ("Is a python code shown? Please answer yes or no.", "Yes", "yes")])],
    }
    answers, scores = [], {}
    for sub, images in data.items():
        gts, preds, plus = [], [], 0
        for image, nested, qs in images:
            stem = image.rsplit(".", 1)[0]
            txt = "".join(f"{q}\t{gt}\n" for q, gt, _ in qs)
            if nested:
                write(f"mme/{sub}/questions_answers_YN/{stem}.txt", txt); write(f"mme/{sub}/images/{image}", "")
                path = f"{sub}/images/{image}"
            else:
                write(f"mme/{sub}/{stem}.txt", txt); write(f"mme/{sub}/{image}", "")
            both = 0
            for q, gt, pred in qs:
                answers.append((f"{sub}/{image}/{q}", pred))
                g, p = gt.lower(), parse(pred.lower())
                gts.append(g); preds.append(p); both += g == p
            plus += both == 2
        acc = sum(g == p for g, p in zip(gts, preds)) / len(gts)
        scores[sub] = {"acc": acc * 100, "acc_plus": plus / len(images) * 100, "score": acc * 100 + plus / len(images) * 100}
    write("mme/answers.jsonl", answers_file(answers))
    perception = ["existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR"]
    expected["mme"] = {"subtasks": scores, "perception": sum(v["score"] for k, v in scores.items() if k in perception),
                       "cognition": sum(v["score"] for k, v in scores.items() if k not in perception),
                       "prompt_artwork_2": "Is this artwork created by Monet?\nAnswer the question using a single word or phrase."}


# ---------------------------------------------------------------- MMBench
# MMBench's evaluator as of VLMEvalKit c6bdffd3 (vlmeval/utils/matching_util.py, vlmeval/evaluate/multiple_choice.py).
REFUSALS = ["Sorry, I can't help with images of people yet.", "I can't process this file.",
            "I'm sorry, but without the image provided", "Cannot determine the answer"]


def can_infer_option(answer, choices):
    if "Failed to obtain answer via API" in answer:
        return False
    for err in REFUSALS:
        if err in answer:
            return "Z"
    mod = answer
    for c in ".()[],:;!*#{}":
        mod = mod.replace(c, " ")
    splits = [x.strip() for x in mod.split()]
    count = sum(1 for c in choices if c in splits)
    if count == 1:
        for ch in choices:
            if ch in splits:
                return ch
    elif count == 0 and sum(1 for c in {"Z", ""} if c in splits) == 1:
        return "Z"
    return False


def can_infer_text(answer, choices):
    answer = answer.lower()
    cands = [k for k in choices if str(choices[k]).lower() in answer]
    return cands[0] if len(cands) == 1 else False


def can_infer(answer, choices):
    return can_infer_option(str(answer), choices) or can_infer_text(str(answer), choices)


def build_prompt(question, choices, prediction):
    options = "There are several options: \n" + "".join(f"{c}. {v}\n" for c, v in choices.items())
    tmpl = ("You are an AI assistant who will help me to match an answer with several options of a single-choice question. "
            "You are provided with a question, several options, and an answer, and you need to find which option is most similar to the answer. "
            "If the meaning of all options are significantly different from the answer, output Z. "
            "Your should output a single uppercase character in A, B, C, D (if they are valid options), and Z. \n"
            "Example 1: \nQuestion: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
            "Answer: a cute teddy bear\nYour output: A\nExample 2: \n"
            "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\nAnswer: Spider\nYour output: Z\n"
            "Example 3: \nQuestion: {}?\nOptions: {}\nAnswer: {}\nYour output: ")
    return tmpl.format(question, options, prediction)


def mmbench():
    png = base64.b64encode(open(os.path.join(OUT, "..", "images", "gray.png"), "rb").read()).decode()
    rows = [  # index, question, hint, options, answer
        (1, "What color is the sky?", "nan", ["blue", "red", "green", "black"], "A"),
        (2, "How many legs does a cat have?", "Count them.", ["two", "four", "six"], "B"),
        (3, "Which is a fruit?", "nan", ["apple", "carrot"], "A"),
        (4, "Which animal barks?", "nan", ["cat", "dog"], "B"),
        (5, "What is shown?", "nan", ["a tree", "a car"], "A"),
        (6, "What is the weather?", "It is outdoors.", ["sunny", "rainy", "snowy"], "A"),
        (1000001, "What color is the sky?", "nan", ["red", "green", "black", "blue"], "D"),
    ]
    header = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "source", "l2-category", "comment", "split", "image"]
    lines = ["\t".join(header)]
    for idx, q, hint, opts, ans in rows:
        o = opts + ["nan"] * (4 - len(opts))
        lines.append("\t".join([str(idx), q, hint] + o + [ans, "attribute", "src", "l2", "nan", "dev", png]))
    write("mmbench/mmbench_dev.tsv", "\n".join(lines) + "\n")
    # rotated asks (--all-rounds): id index/round
    texts = {
        "1/0": "A", "1/1": "The answer is D.", "1/2": "C. blue", "1/3": "B",          # all right (blue rotates A, D, C, B)
        "2/0": "B", "2/1": "(A) four", "2/2": "four legs",                          # right: B, A, then text "four" -> C
        "3/0": "A", "3/1": "A and B",                                              # round 1 unread: the judge says B (right)
        "4/0": "Z", "4/1": "A",                                                    # "Z" is read, and wrong
        "5/0": "Cannot determine the answer", "5/1": "B",                          # a refusal reads as Z
        "6/0": "It looks bright and warm", "6/1": "C", "6/2": "B",                # round 0 unread: the judge says A (right)
        "1000001/0": "D", "1000001/1": "C", "1000001/2": "b", "1000001/3": "A",   # round 2 "b" unread: the judge never names an option
    }
    judge_replies = {"A and B": ["The answer is B"], "It looks bright and warm": ["A"], "b": ["I cannot tell", "none", "hmm"]}
    write("mmbench/answers.jsonl", answers_file(list(texts.items())))
    letters = ["A", "B", "C", "D"]
    groups = {}
    for idx, q, hint, opts, ans in sorted(rows):
        n = len(opts)
        for r in range(n):
            rot = opts[r:] + opts[:r]
            choices = dict(zip(letters, rot))
            groups.setdefault(idx % 1000000, []).append(dict(id=f"{idx}/{r}", question=q, choices=choices, prediction=texts[f"{idx}/{r}"],
                                                             GT=letters[(letters.index(ans) - r) % n]))

    def gpt(item):  # extract_answer_from_item's loop with the scripted judge; None after three unread replies
        for reply in judge_replies.get(item["prediction"], [])[:3]:
            ret = can_infer(reply, item["choices"])
            if ret:
                return ret
        return None

    def eval_group(sub, with_judge):  # prefetch_sub_data then eval_sub_data
        pred = [can_infer(it["prediction"], it["choices"]) for it in sub]
        for it, p in zip(sub, pred):
            if p and p != it["GT"]:
                return 0
        if all(p == it["GT"] for it, p in zip(sub, pred)):
            return 1
        if not with_judge:
            return 0   # exact_matching policy
        for it, p in zip(sub, pred):
            if not p and gpt(it) != it["GT"]:
                return 0
        return 1
    no_judge = [eval_group(g, False) for g in groups.values()]
    judged = [eval_group(g, True) for g in groups.values()]
    needs = sum(1 for g in groups.values() if not any(can_infer(i["prediction"], i["choices"]) and can_infer(i["prediction"], i["choices"]) != i["GT"] for i in g)
                and any(not can_infer(i["prediction"], i["choices"]) for i in g))
    asks = sum(len(g) for g in groups.values())
    single = sum(can_infer(i["prediction"], i["choices"]) == i["GT"] for g in groups.values() for i in g)
    unmatched = sum(not can_infer(i["prediction"], i["choices"]) for g in groups.values() for i in g)
    ask31 = groups[3][1]
    expected["mmbench"] = {"circular": 100 * sum(no_judge) / len(groups), "circular_judged": 100 * sum(judged) / len(groups),
                           "single": 100 * single / asks, "questions": len(groups), "asks": asks, "unmatched": unmatched,
                           "failed_without_judge": needs, "judge_replies": judge_replies,
                           "matching_prompt_3_1": build_prompt(ask31["question"], ask31["choices"], ask31["prediction"]),
                           "prompt_2_0": "Count them.\nHow many legs does a cat have?\nA. two\nB. four\nC. six\nAnswer with the option's letter from the given choices directly."}


# ---------------------------------------------------------------- VQA accuracy (m4c / EvalAI normalisation)
CONTRACTIONS = {"dont": "don't", "isnt": "isn't", "cant": "can't", "whats": "what's", "youre": "you're", "wont": "won't"}
NUMBERS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
PUNCT = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]


def punctuation_digits_articles(a, digit_comma_pattern):
    """The EvalAI answer processing both evaluators share: punctuation (dropped next to a space
    or when a comma sits between digits, else a space), periods not before a digit, number
    words, articles, contractions. They differ only in how they spot a comma between digits."""
    out = a
    digit_comma = re.search(digit_comma_pattern, a) is not None
    for p in PUNCT:
        out = out.replace(p, "") if (p + " " in a or " " + p in a or digit_comma) else out.replace(p, " ")
    out = re.sub(r"\.(?!\d)", "", out, count=32)
    words = [NUMBERS.get(w, w) for w in out.lower().split()]
    words = [CONTRACTIONS.get(w, w) for w in words if w not in ("a", "an", "the")]
    return " ".join(words)


def normalize(a):
    a = a.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    a = a.replace("\n", " ").replace("\t", " ").strip()
    return punctuation_digits_articles(a, r"(?<=\d)(\,)+(?=\d)")


def vqa_score(pred, gts):
    """m4c's TextVQAAccuracyEvaluator (eval_textvqa.py): EvalAI processing of both sides."""
    p, g = normalize(pred), [normalize(x) for x in gts]
    return sum(min(1, sum(1 for j, y in enumerate(g) if j != i and y == p) / 3) for i in range(len(g))) / len(g)


def vqaeval_norm(a):
    """vqaEval.py's processPunctuation (one comma between digits) then processDigitArticle."""
    return punctuation_digits_articles(a, r"(\d)(\,)(\d)")


def vqaeval_score(res, gts):
    """GT-Vision-Lab/VQA vqaEval.py (VQAEval.evaluate, 2021): strip; normalise only when the
    human answers differ; mean over leave-one-out subsets of min(matches / 3, 1)."""
    clean = lambda x: x.replace("\n", " ").replace("\t", " ").strip()
    res, gts = clean(res), [clean(g) for g in gts]
    if len(set(gts)) > 1:
        gts = [vqaeval_norm(g) for g in gts]
        res = vqaeval_norm(res)
    return sum(min(1, sum(1 for j, y in enumerate(gts) if j != i and y == res) / 3) for i in range(len(gts))) / len(gts)


def vqa():
    cases = [  # (prediction, ten human answers, answer_type)
        ("Two", ["2"] * 4 + ["two"] * 2 + ["3"] * 4, "number"),
        ("the dog.", ["dog"] * 2 + ["puppy"] * 8, "other"),
        ("Dont know", ["don't know"] * 1 + ["no idea"] * 9, "other"),
        ("yes!", ["yes"] * 10, "yes/no"),
        ("Coca-Cola", ["coca cola"] * 5 + ["coke"] * 5, "other"),
        ("3.5", ["3.5"] * 3 + ["3"] * 7, "number"),
        ("red, white", ["red white"] * 3 + ["red"] * 7, "other"),
        ("Unanswerable", ["unanswerable"] * 6 + ["blue"] * 4, "other"),
        # All ten agree: vqaEval matches exactly, so "2 dogs" (after the submission's EvalAI pass) misses "two dogs".
        ("Two dogs", ["two dogs"] * 10, "other"),
        # Humans differ: vqaEval normalises both sides ("1,000" has one comma between digits: marks deleted).
        ("1,000", ["1,000"] * 4 + ["1000"] * 2 + ["one thousand"] * 4, "number"),
        ("  left\n", ["left"] * 2 + ["Left"] * 1 + ["right"] * 7, "other"),
    ]
    qs = {"data_subtype": "val2014", "questions": [{"image_id": 100 + i, "question": f"Q{i}?", "question_id": 5000 + i} for i in range(len(cases))]}
    ann = {"annotations": [{"question_id": 5000 + i, "image_id": 100 + i, "answers": [{"answer": g, "answer_confidence": "yes", "answer_id": j + 1} for j, g in enumerate(gts)],
                            "multiple_choice_answer": gts[0], "answer_type": t} for i, (_, gts, t) in enumerate(cases)]}
    write("vqav2/questions.json", json.dumps(qs))
    write("vqav2/annotations.json", json.dumps(ann))
    write("vqav2/answers.jsonl", answers_file([(str(5000 + i), p) for i, (p, _, _) in enumerate(cases)]))
    per = [vqa_score(p, g) for p, g, _ in cases]
    # VQAv2 locally: vqaEval.py on the submission file's answers (convert_vqav2_for_submission.py's EvalAI pass).
    official = [vqaeval_score(normalize(p), g) for p, g, _ in cases]
    types = {}
    for (_, _, t), v in zip(cases, official):
        types.setdefault(t, []).append(v)
    expected["vqa"] = {"scores": per, "vqaeval_scores": official, "accuracy": 100 * sum(official) / len(official),
                       "per_type": {t: 100 * sum(v) / len(v) for t, v in types.items()},
                       "normalized": [normalize(p) for p, _, _ in cases], "submission": [normalize(p) for p, _, _ in cases]}


def textvqa():
    """LLaVA-1.5's TextVQA: the llava_textvqa_val_v051_ocr.jsonl prompt, scored by eval_textvqa.py (m4c)."""
    rows = [  # question_id, image_id, question, ocr tokens (None: from the Rosetta file), prediction, answers
        (34602, "003a8ae2ef43b901", "What is the brand of this camera?", ["DAKOTA", "DIGITAL", "Single-Use"], "Dakota", ["dakota"] * 9 + ["dakota digital"]),
        (34603, "b9dc400eb20bad64", "What does the small white text spell?", None, "copenhagen", ["copenhagen"] * 3 + ["rupalcon"] * 7),
        (34604, "97b1112b17015396", "Whats the lowest number yard line that you can see?", [], "ten", ["10"] * 8 + ["20"] * 2),
    ]
    rosetta = {"b9dc400eb20bad64": ["D", "RUPALCON", "COPENHAGEN"]}
    data = []
    for qid, img, q, toks, _, answers in rows:
        entry = {"question_id": qid, "image_id": img, "question": q, "answers": answers, "set_name": "val"}
        if toks is not None:
            entry["ocr_tokens"] = toks
        data.append(entry)
    write("textvqa/TextVQA_0.5.1_val.json", json.dumps({"dataset_type": "val", "dataset_name": "textvqa", "data": data}))
    write("textvqa/TextVQA_Rosetta_OCR_v0.2_val.json", json.dumps({"data": [{"image_id": k, "ocr_tokens": v} for k, v in rosetta.items()]}))
    write("textvqa/answers.jsonl", answers_file([(str(r[0]), r[4]) for r in rows]))
    prompts = {}
    for qid, img, q, toks, _, _ in rows:
        toks = toks if toks is not None else rosetta[img]
        prompt = q + "\nReference OCR token: " + ", ".join(toks) + "\nAnswer the question using a single word or phrase."
        # eval_textvqa.py's prompt_processor reads the question back from the first of three lines.
        assert "Reference OCR token: " in prompt and len(prompt.split("\n")) == 3 and prompt.split("\n")[0] == q
        prompts[str(qid)] = prompt
    scores = [vqa_score(r[4], r[5]) for r in rows]
    expected["textvqa"] = {"prompts": prompts, "accuracy": 100 * sum(scores) / len(scores)}


# ---------------------------------------------------------------- GQA
def gqa():
    qs = {"201": ("Is the cat black?", "yes", "verify", "Yes."), "202": ("What color is the car?", "red", "query", "Red"),
          "203": ("Which side is the dog on?", "left", "query", "left.."), "204": ("Are there both cups and plates?", "no", "logical", "No, there are not."),
          "205": ("What is on the table?", "cup", "query", "a cup"), "206": ("Is it sunny?", "yes", "verify", "yes")}
    # eval.py scores only the balanced questions.
    data = {k: {"imageId": f"n{k}", "question": q, "answer": a, "types": {"structural": s, "semantic": "attr", "detailed": "x"}, "isBalanced": k != "206"}
            for k, (q, a, s, _) in qs.items()}
    write("gqa/testdev_balanced_questions.json", json.dumps(data))
    write("gqa/answers.jsonl", answers_file([(k, v[3]) for k, v in qs.items()]))
    preds = {k: v[3].rstrip(".").lower() for k, v in qs.items()}
    balanced = [k for k in qs if data[k]["isBalanced"]]
    right = {k: preds[k] == qs[k][1] for k in balanced}
    openq = [k for k in balanced if qs[k][2] == "query"]
    expected["gqa"] = {"predictions": preds, "accuracy": 100 * sum(right.values()) / len(balanced),
                       "open": 100 * sum(right[k] for k in openq) / len(openq),
                       "binary": 100 * sum(right[k] for k in balanced if k not in openq) / (len(balanced) - len(openq)),
                       "balanced": len(balanced)}


# ---------------------------------------------------------------- LLaVA-Bench
def llava_bench():
    def parse(review):
        try:
            sp = review.split("\n")[0].replace(",", " ").split(" ")
            return [float(sp[0]), float(sp[1])] if len(sp) == 2 else [-1, -1]
        except Exception:
            return [-1, -1]
    # summarize_gpt_review.py averages every tuple, an unparsable review's [-1, -1] included.
    reviews = [("conv", "8 7\nGood."), ("conv", "9,6\nFine."), ("conv", "The scores are 8 and 7."), ("detail", "7 7"), ("detail", "6.5 3\nweak"),
               ("complex", "10 9\nok"), ("complex", "8 8.5"), ("complex", "9 5\n"), ("complex", "Score: 8 7")]
    unparsable = ["Score: 8 7", "8  7", "8 7 6", "The scores are 8 and 7."]
    tuples = [(c, parse(r)) for c, r in reviews]
    scores = {}
    for c, t in tuples:
        scores.setdefault("llava_bench_" + c, []).append(t); scores.setdefault("all", []).append(t)
    summary = {}
    for k, v in sorted(scores.items()):
        m = [round(statistics.fmean(x[i] for x in v), 3) for i in range(2)]
        summary[k] = [round(m[1] / m[0] * 100, 1), round(m[0] * 10, 1), round(m[1] * 10, 1)]
    write("llava-bench/reviews.jsonl", jsonl([{"id": i + 1, "question_id": i, "answer1_id": f"r{i}", "answer2_id": f"m{i}", "category": "llava_bench_" + c,
                                               "content": r, "tuple": parse(r), "attempts": 1} for i, (c, r) in enumerate(reviews)]))
    expected["llava_bench"] = {"summary": summary, "unparsable": [parse(u) for u in unparsable], "parsed": [parse(r) for _, r in reviews],
                               "unparsable_reviews": sum(parse(r) == [-1, -1] for _, r in reviews)}


if __name__ == "__main__":
    sqa(); pope(); mme(); mmbench(); vqa(); textvqa(); gqa(); llava_bench()
    write("expected.json", json.dumps(expected, indent=1, sort_keys=True) + "\n")
    print("wrote", os.path.normpath(OUT))
