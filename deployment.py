"""Deployment: publish the scored model, its score and its ingestion record as one version.

Reads   output_model_path/{trainedmodel.skops, trainedmodel.pkl, trainedmodel.json,
        latestscore.txt, scores.json}, output_folder_path/{ingestedfiles.txt,
        ingestion_record.json}, the signing key (deployment.signing_key_path)
Writes  prod_deployment_path/versions/vNNNN/   those files plus manifest.json (sha256 of each,
                                               signed with HMAC-SHA256)
        prod_deployment_path/current           symlink to the live version, swapped atomically
        prod_deployment_path/trainedmodel.pkl, latestscore.txt, ingestedfiles.txt
                                               symlinks through current/, for the original tools
Run     python deployment.py [--config config.json] [--list | --rollback | --to vNNNN]

A reader resolves `current` once and reads every file from that version folder, so it sees
the old set or the new set, never a mix. Loading checks the manifest's signature (key kept
outside the deployment folder, created with mode 0600 on first deploy), then the model's
sha256 and types; the model is the skops file, the pickle is never loaded.
"""

from __future__ import annotations

from risk_assessment.core.common import cli_parser, run_cli

from risk_assessment.access.commands import audit_operator
from risk_assessment.core.locking import writer_lock
from risk_assessment.core.settings import load_config
from risk_assessment.deployment.versions import deploy, format_versions, prune, rollback, switch_to
from risk_assessment.store import records as store


def main() -> int:
    """Deploy the scored model, or list the deployed versions."""
    parser = cli_parser(__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="list deployed versions and exit")
    action.add_argument("--rollback", action="store_true", help="make the previous version live")
    action.add_argument("--to", metavar="vNNNN", help="make this kept version live (see --list)")
    args = parser.parse_args()
    config = load_config(args.config)
    prod, key_file = config["prod_deployment_path"], config["deployment"]["signing_key_path"]
    if args.list:
        print(format_versions(prod))
        return 0
    with writer_lock(config, "deployment.py"):
        if args.rollback or args.to:
            schema = config["schema"]
            version = (
                rollback(prod, key_file, schema)
                if args.rollback
                else switch_to(prod, args.to, key_file, schema)
            )
            audit_operator(config, "rollback" if args.rollback else "switch", version)
            return 0
        store.refresh_exports(config["output_folder_path"], config["schema"])
        deploy(config)
        prune(config)
    return 0


if __name__ == "__main__":
    run_cli(main, "deployment")
