# bash completion for tandem(8). Every command and option of `tandem --help` is
# listed here; the package tests check that against the program.
_tandem() {
  local cur prev words cword
  _init_completion || return

  local commands='check-config convert ipvs run status conns failover takeover standby resume reload keygen cleanup help'
  local command='' i
  for ((i = 1; i < cword; i++)); do
    if [[ ${words[i]} != -* ]]; then
      command=${words[i]}
      break
    fi
  done

  case $prev in
    --config | --socket)
      _filedir
      return
      ;;
    --log-format)
      COMPREPLY=($(compgen -W 'json journal pretty' -- "$cur"))
      return
      ;;
    --log-level)
      COMPREPLY=($(compgen -W 'trace debug info warn error fatal silent' -- "$cur"))
      return
      ;;
    --format)
      COMPREPLY=($(compgen -W 'yaml lvs.cf ipvsadm lvs.conf' -- "$cur"))
      return
      ;;
    --to)
      COMPREPLY=($(compgen -W 'yaml' -- "$cur"))
      return
      ;;
    --node | --id | --realtime | --nice)
      return
      ;;
  esac

  local options
  case $command in
    '') options='--version --help' ;;
    run) options='--config --node --log-format --log-level --socket --realtime --nice --no-nice --format --help' ;;
    status | conns | failover | takeover | standby | resume | reload) options='--socket --json --help' ;;
    check-config) options='--node --json --format --help' ;;
    convert) options='--to --format --help' ;;
    ipvs) options='--save --help' ;;
    keygen) options='--add --id --help' ;;
    cleanup) options='--config --socket --after-stop --format --help' ;;
    help) COMPREPLY=($(compgen -W "$commands" -- "$cur")); return ;;
  esac

  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
  elif [[ -z $command ]]; then
    COMPREPLY=($(compgen -W "$commands" -- "$cur"))
  elif [[ $command == check-config || $command == convert || $command == keygen ]]; then
    _filedir
  fi
} && complete -F _tandem tandem
