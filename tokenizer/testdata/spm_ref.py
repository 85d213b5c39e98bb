"""Reference helper for the Go tests: drives the official sentencepiece library.

  spm_ref.py train CORPUS PREFIX KEY=VALUE...   train a model with SentencePieceTrainer
  spm_ref.py encode MODEL LINES                 print each line's ids, space-separated
  spm_ref.py decode MODEL IDS                   print the text of each line of ids

Run with Debian's /usr/bin/python3 and python3-sentencepiece.
"""
import sys

import sentencepiece as spm


def main():
    cmd = sys.argv[1]
    if cmd == "train":
        corpus, prefix = sys.argv[2], sys.argv[3]
        kwargs = dict(a.split("=", 1) for a in sys.argv[4:])
        spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix,
                                       minloglevel=2, **kwargs)
        return
    sp = spm.SentencePieceProcessor(model_file=sys.argv[2])
    with open(sys.argv[3], encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = sys.stdout
    for line in lines:
        if cmd == "encode":
            out.write(" ".join(str(i) for i in sp.encode(line)) + "\n")
        elif cmd == "decode":
            ids = [int(x) for x in line.split()]
            out.write(sp.decode(ids) + "\n")
        else:
            sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
