//! Reports: the result workbook sent back to the requester.
