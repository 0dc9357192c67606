package rlm

import "errors"

// ErrInvalidOption is returned by [New] for an option value out of range.
var ErrInvalidOption = errors.New("rlm: invalid option")

// ErrNoController is returned by [New] when the controller is nil.
var ErrNoController = errors.New("rlm: no controller")

// ErrEmptyQuestion is returned by [RLM.Run] when the question is empty.
var ErrEmptyQuestion = errors.New("rlm: empty question")
