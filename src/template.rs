//! Blank templates generated from the catalog: the Accounts Worksheet.
