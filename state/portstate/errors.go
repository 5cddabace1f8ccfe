package portstate

import "errors"

var errStagesSet = errors.New("portstate: Options.Stages is set: portstate lists the stages itself")
