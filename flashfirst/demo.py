"""A small, realistic workload made on the spot: camera-rate video, studio-rate audio, an
image, and questions about one large reference document.

Inputs are generated once into ``<storage_root>/demo-inputs`` and kept, so a second demo
run sees the same bytes and shows the reuse (no media work, cache hit, no new calls)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from flashfirst.gemini.token_rules import MediaResolution
from flashfirst.inputs.context import SharedContext
from flashfirst.items import MediaPolicy, TaskKind, WorkItem
from flashfirst.params import AnalyzeParams
from flashfirst.probe import MediaKind

_TOPICS = ["billing", "refunds", "shipping", "privacy", "warranty", "accounts", "security",
           "returns", "support hours", "data retention"]


def _ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
                    "-y", *args], check=True)


def _make_media(folder: Path) -> None:
    lavfi_video = "testsrc2=size=1280x720:rate=60"
    if not (folder / "store-walkthrough.mp4").exists():
        _ffmpeg("-f", "lavfi", "-i", lavfi_video, "-f", "lavfi", "-i",
                "sine=frequency=330:sample_rate=44100", "-ac", "2", "-t", "12",
                "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "6M", "-c:a", "aac",
                "-b:a", "192k", str(folder / "store-walkthrough.mp4"))
    if not (folder / "dashcam.mp4").exists():
        _ffmpeg("-f", "lavfi", "-i", "cellauto=s=1280x720:rate=60:rule=110", "-t", "10",
                "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "6M",
                str(folder / "dashcam.mp4"))
    if not (folder / "support-call.wav").exists():
        _ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:sample_rate=44100:duration=20",
                "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-filter_complex",
                "[0]aformat=channel_layouts=stereo[a];[1]atrim=0:12[s];[a][s]concat=n=2:v=0:a=1",
                str(folder / "support-call.wav"))
    if not (folder / "podcast.wav").exists():
        _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=30",
                "-ac", "2", str(folder / "podcast.wav"))
    if not (folder / "shelf-photo.png").exists():
        _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=2400x1600", "-frames:v", "1",
                str(folder / "shelf-photo.png"))


def _reference_document() -> str:
    sections = []
    for n in range(1, 121):
        topic = _TOPICS[n % len(_TOPICS)]
        sections.append(
            f"Section {n}: {topic}. Customers asking about {topic} are answered within two "
            f"business days. Policy {n}.{n % 7} applies to orders placed after day {n * 3}; "
            f"exceptions need approval from the {topic} lead and are logged in ticket "
            f"category {topic.upper()}-{n:03d}. Escalations follow rule {n % 5 + 1}.")
    return "ACME Corp customer policy handbook\n\n" + "\n\n".join(sections) + "\n"


_QUESTIONS: list[tuple[TaskKind, str, dict | None]] = [
    (TaskKind.ANSWER, "How fast are billing questions answered?", None),
    (TaskKind.ANSWER, "Who approves exceptions to the refunds policy?", None),
    (TaskKind.EXTRACT, "List every policy number that mentions shipping.",
     {"type": "object", "properties": {"policies": {"type": "array",
                                                    "items": {"type": "string"}}},
      "required": ["policies"]}),
    (TaskKind.CLASSIFY, "Ticket: 'I was charged twice this month.' Which category?", None),
    (TaskKind.CLASSIFY, "Ticket: 'Please delete my account data.' Which category?", None),
    (TaskKind.CLASSIFY, "Ticket: 'My parcel never arrived.' Which category?", None),
    (TaskKind.SUMMARIZE, "Summarize the warranty rules for a new support agent.", None),
    (TaskKind.SUMMARIZE, "Summarize what changed for orders placed after day 200.", None),
    (TaskKind.EXTRACT, "Extract the escalation rule for each topic.",
     {"type": "object", "properties": {"rules": {"type": "array", "items": {
         "type": "object", "properties": {"topic": {"type": "string"},
                                          "rule": {"type": "integer"}},
         "required": ["topic", "rule"]}}}, "required": ["rules"]}),
    (TaskKind.REASON, "A refund request arrives on day 250 for an order of day 100; which "
                      "policies apply, and who must approve an exception? Reason it out.", None),
    (TaskKind.CODE, "Write a Python function that maps a ticket text to its category code "
                    "as described in the handbook.", None),
    (TaskKind.CREATIVE, "Write a short, friendly welcome note for new customers that "
                        "mentions support hours.", None),
]


def demo_params(storage_root: str) -> AnalyzeParams:
    folder = Path(storage_root) / "demo-inputs"
    folder.mkdir(parents=True, exist_ok=True)
    _make_media(folder)
    handbook = folder / "handbook.md"
    if not handbook.exists():
        handbook.write_text(_reference_document())
    items = [
        WorkItem(id="video/store-walkthrough", kind=MediaKind.VIDEO, task=TaskKind.SUMMARIZE,
                 uri=str(folder / "store-walkthrough.mp4"),
                 prompt="Summarize what the customer sees in this store walkthrough."),
        WorkItem(id="video/dashcam", kind=MediaKind.VIDEO, task=TaskKind.CLASSIFY,
                 uri=str(folder / "dashcam.mp4"), prompt="Is this clip day or night driving?",
                 media_policy=MediaPolicy(fps=0.5, media_resolution=MediaResolution.LOW)),
        WorkItem(id="audio/support-call", kind=MediaKind.AUDIO, task=TaskKind.TRANSCRIBE,
                 uri=str(folder / "support-call.wav"),
                 media_policy=MediaPolicy(remove_silence=True)),
        WorkItem(id="audio/podcast", kind=MediaKind.AUDIO, task=TaskKind.SUMMARIZE,
                 uri=str(folder / "podcast.wav"), media_policy=MediaPolicy(trim_end_s=20)),
        WorkItem(id="image/shelf-photo", kind=MediaKind.IMAGE, task=TaskKind.CLASSIFY,
                 uri=str(folder / "shelf-photo.png"), prompt="Is the shelf fully stocked?"),
    ]
    items += [WorkItem(id=f"question/{n:02d}-{task.value}", task=task, text=question,
                       prompt=None if task is not TaskKind.ANSWER else "Answer from the "
                       "handbook in the context.", response_schema=schema)
              for n, (task, question, schema) in enumerate(_QUESTIONS, 1)]
    # One question that is new on every run: it shows a later run reading the cache an
    # earlier run created, while everything already answered is reused, not paid again.
    asked_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    items.append(WorkItem(id="question/new-this-run", task=TaskKind.ANSWER,
                          text=f"It is {asked_at}. Which support hours apply right now?"))
    return AnalyzeParams(
        items=items,
        context=SharedContext(
            system_instruction="You are ACME Corp's support analyst. Answer from the "
                               "handbook; say so when it does not cover a question.",
            documents=[str(handbook)]),
        deadline_s=3600,
        output=str(Path(storage_root) / "runs" / "demo-latest"),
    )
