"""A complete third trainer plugin in plain PyTorch: the worked example of docs/adding-a-trainer.md.

It honours the contract and nothing more: SFT = masked cross-entropy on the rows' ``loss_mask``; RL =
sample ``group_size`` answers per prompt, reward them with the harness grader, advantage = reward -
group mean (optionally / std), one policy-gradient update per step. Every step writes a neutral row.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from trainers.base import RLConfig, SFTConfig, TrainerPlugin, TrainResult
from trainers.data import drop_long, load_rl_rows, load_sft_rows
from trainers.reward import grade_responses
from trainers.trainlog import TrainLogWriter


def _load(model: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(model), AutoTokenizer.from_pretrained(model)


def _save(net, tok, out_dir: Path) -> Path:
    ckpt = Path(out_dir) / "checkpoint"
    net.save_pretrained(ckpt)
    tok.save_pretrained(ckpt)
    return ckpt


class ToyTrainer(TrainerPlugin):
    name = "toy"
    requires = ("torch", "transformers")
    supports = frozenset({"sft", "rl"})
    description = "Plain PyTorch loops (test plugin): masked-CE SFT, group-mean policy gradient"

    def sft(self, model: str, dataset: Path, config: SFTConfig, out_dir: Path) -> TrainResult:
        import torch
        from transformers import get_scheduler

        torch.manual_seed(config.seed)
        net, tok = _load(model)
        rows, dropped = drop_long(load_sft_rows(dataset), config.max_length)
        bs = config.effective_batch_size
        steps = config.max_steps if config.max_steps > 0 else math.ceil(len(rows) / bs * config.num_epochs)
        opt = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        sched = get_scheduler(config.lr_scheduler, opt, num_warmup_steps=int(config.warmup_ratio * steps),
                              num_training_steps=steps,
                              scheduler_specific_kwargs={"min_lr_rate": config.min_lr_rate}
                              if config.lr_scheduler == "cosine_with_min_lr" else {})
        writer, started, trained = TrainLogWriter(out_dir, "sft"), time.perf_counter(), 0
        net.train()
        for step in range(1, steps + 1):
            batch = [rows[i % len(rows)] for i in range((step - 1) * bs, step * bs)]
            width = max(len(r["input_ids"]) for r in batch)
            ids = torch.tensor([r["input_ids"] + [tok.pad_token_id] * (width - len(r["input_ids"])) for r in batch])
            mask = torch.tensor([r["loss_mask"] + [0] * (width - len(r["loss_mask"])) for r in batch])
            attn = torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in batch])
            labels = ids.masked_fill(mask == 0, -100)
            loss = net(input_ids=ids, attention_mask=attn, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            trained += int(attn.sum())
            writer.write(step, loss=loss.item(), learning_rate=sched.get_last_lr()[0], tokens_trained=trained,
                         epoch=step * bs / len(rows))
        return TrainResult(_save(net, tok, out_dir), writer.path, steps, time.perf_counter() - started,
                           tokens_trained=trained, extra={"dropped_long": dropped})

    def rl(self, model: str, problems: Path, config: RLConfig, out_dir: Path) -> TrainResult:
        import torch

        if config.kl_coef or config.entropy_coef or config.updates_per_step != 1:
            raise ValueError("the toy plugin implements no KL, no entropy bonus, one update per step")
        torch.manual_seed(config.seed)
        net, tok = _load(model)
        tok.padding_side = "left"
        rows = load_rl_rows(problems)
        opt = torch.optim.AdamW(net.parameters(), lr=config.learning_rate)
        writer, started = TrainLogWriter(out_dir, "rl"), time.perf_counter()
        generated = trained = 0
        group = config.group_size
        for step in range(1, config.max_steps + 1):
            batch = [rows[i % len(rows)] for i in range((step - 1) * config.prompts_per_step, step * config.prompts_per_step)]
            texts = [tok.apply_chat_template(r["messages"], tokenize=False, add_generation_prompt=True) for r in batch]
            enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            net.eval()
            with torch.no_grad():
                seqs = net.generate(**enc, do_sample=True, temperature=config.temperature, top_p=config.top_p,
                                    max_new_tokens=config.max_new_tokens, num_return_sequences=group,
                                    pad_token_id=tok.pad_token_id)
            plen = enc["input_ids"].shape[1]
            comp = seqs[:, plen:]
            is_eos = comp == tok.eos_token_id
            # A completion ends at its first EOS (kept, it is a trained action); the rest is padding.
            comp_mask = (torch.cumsum(is_eos.long(), 1) - is_eos.long() == 0).long()
            golds = [str(r["answer"]) for r in batch for _ in range(group)]
            rewards = torch.tensor([v.score for v in grade_responses(tok.batch_decode(comp, skip_special_tokens=True), golds)])
            grouped = rewards.view(-1, group)
            adv = grouped - grouped.mean(1, keepdim=True)
            if config.advantage == "group_norm":
                adv = adv / (grouped.std(1, keepdim=True) + 1e-4)
            net.train()
            attn = torch.cat([enc["attention_mask"].repeat_interleave(group, 0), comp_mask], 1)
            logits = net(input_ids=seqs, attention_mask=attn).logits[:, plen - 1:-1].float()
            logp = torch.log_softmax(logits, -1)
            tok_logp = logp.gather(-1, comp.unsqueeze(-1)).squeeze(-1)
            n_tok = comp_mask.sum().clamp(min=1)
            loss = -(adv.reshape(-1, 1) * tok_logp * comp_mask).sum() / n_tok
            entropy = (-(logp.exp() * logp).sum(-1) * comp_mask).sum() / n_tok
            opt.zero_grad()
            loss.backward()
            opt.step()
            generated += int(comp_mask.sum())
            trained += int(attn.sum())
            writer.write(step, loss=loss.item(), learning_rate=config.learning_rate, reward_mean=rewards.mean().item(),
                         reward_std=rewards.std().item(), frac_zero_advantage=(grouped.std(1) == 0).float().mean().item(),
                         response_length_mean=comp_mask.sum(1).float().mean().item(),
                         truncation_rate=(~is_eos.any(1)).float().mean().item(), entropy=entropy.item(),
                         tokens_generated=generated, tokens_trained=trained)
        return TrainResult(_save(net, tok, out_dir), writer.path, config.max_steps, time.perf_counter() - started,
                           tokens_generated=generated, tokens_trained=trained)
