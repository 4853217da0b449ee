      *****************************************************************
      * ENDORSE - POLICY ENDORSEMENT TRANSACTIONS (VARIABLE LENGTH)    *
      * ENCODING CP037. RECFM=VB. EACH RECORD IS PRECEDED BY A 4-BYTE  *
      * RDW: 2-BYTE BIG-ENDIAN LENGTH THAT INCLUDES THE 4 RDW BYTES,   *
      * THEN 2 ZERO BYTES (IBM STANDARD). DATA LENGTH = 53 + 48 * CNT. *
      *****************************************************************
       01  ENDT-REC.
           05  ENDT-NBR                PIC X(12).
           05  POL-NBR                 PIC X(10).
           05  ENDT-TYP-CD             PIC X(2).
           05  ENDT-EFF-DT             PIC 9(8).
           05  ENDT-PREM-CHG           PIC S9(7)V99 COMP-3.
           05  PROC-TS                 PIC X(14).
           05  CHG-CNT                 PIC S9(4) COMP.
           05  CHG-LINES OCCURS 1 TO 5 TIMES DEPENDING ON CHG-CNT.
               10  CHG-FLD-CD          PIC X(8).
               10  CHG-OLD-VAL         PIC X(20).
               10  CHG-NEW-VAL         PIC X(20).
